"""What the RNN benchmarks measure for one decomposition, in one place so that every row is measured
alike: composed accuracy on validation and test beside the model's, units kept, seconds.

Validation figures are what choices are made on; test figures are reported, never chosen on."""

from __future__ import annotations

from dataclasses import replace

from nnpm.datasets.text import TextData
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import train as tr


def measure(net, data: TextData, config: dec.DecomposeConfig, mono: dict[str, float]) -> dict:
    """Decompose with `config`; composed accuracy and loss in points against `mono` ({"val", "test"})."""
    d = dec.decompose(net, data, config)
    kept = [sum(len(k) for k in m.keep) for m in d.modules]
    row = {"cap": d.cap, "seconds": round(d.seconds, 1), "retained_mean": round(sum(kept) / len(kept), 1),
           "total": sum(net.rnn.sizes), **d.choice.get("sequences", {})}  # fmt: skip
    for split in ("val", "test"):
        acc = dec.composed_accuracy(d.modules, getattr(data, split))
        row[f"{split}_composed"] = round(acc, 4)
        row[f"{split}_delta_points"] = round(100 * (acc - mono[split]), 2)
    if config.cap is None:
        row["validation_by_cap"] = d.choice["validation_composed"]
        row["met_on_validation"] = d.choice["met"]
    return row


def model_accuracy(net, data: TextData) -> dict[str, float]:
    return {"val": tr.accuracy(net, data.val), "test": tr.accuracy(net, data.test)}


def cap_curve(net, data: TextData, config: dec.DecomposeConfig, caps, mono) -> dict[str, dict]:
    """Composed validation and test loss at each fixed cap: where the loss comes from (cap 0 keeps every
    unit, so its loss is the output channeling's alone)."""
    out = {}
    for cap in caps:
        r = measure(net, data, replace(config, cap=cap), mono)
        out[str(cap)] = {
            k: r[k] for k in ("val_delta_points", "test_delta_points", "retained_mean", "seconds")
        }
    return out
