"""Benchmark: many-to-one decomposition for sentence language ID (chatterbot-corpus, characters).

    python benchmarks/rnn_langid.py [--cells gru,lstm] [--layers 1,2] [--epochs 8] [--out results.jsonl]

Per model: monolithic test accuracy; composed-modules accuracy (refit and paper modes) with the given
--pool / --refit-sequences totals and --cap (the earlier defaults: 2,000 / 1,000 / 0.2); retained units
and decomposition time against one training epoch. Then, on the same models:

- "per_class" (--per-class-grid): sequences counted per class, cap fixed, validation and test loss.
  Every model is trained first, so the run itself picks the per-class count on validation (the
  smallest whose mean validation loss over the models is within 0.1 points of the best) and prints it;
- "refit_auto": per-class sizing with that count (or --per-class) and the cap chosen on validation;
- "cap_curve" (--curve): the validation and test loss at each given fixed cap (cap 0 keeps every unit,
  so its loss is the output channeling's alone).

One JSON line per model (and one for the per-class choice).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from _results import emit  # benchmarks/ is on sys.path when a script runs

from nnpm.datasets import chatterbot
from nnpm.science.rnn import bench
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import train as tr


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="lang", choices=["lang", "topic"])
    parser.add_argument("--cells", default="gru,lstm")
    parser.add_argument("--layers", default="1")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--embedding-dim", type=int, default=50)
    parser.add_argument("--cap", type=float, default=dec.DEFAULT_CAP, help="fixed cap of the baseline rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="a stratified sample of this many sentences")
    parser.add_argument("--pool", type=int, default=2000, help="baseline rows: sequences for unit statistics")
    parser.add_argument(
        "--refit-sequences", type=int, default=1000, help="baseline rows: sequences to refit on"
    )
    parser.add_argument("--per-class-grid", default="", help="comma-separated per-class counts to measure")
    parser.add_argument("--per-class", type=int, default=None, help="refit_auto's count (default: chosen)")
    parser.add_argument("--skip-auto", action="store_true", help="skip the row with today's defaults")
    parser.add_argument(
        "--fill-mean", action="store_true", help="also refit_auto with removed units held at their mean"
    )
    parser.add_argument("--curve", default=None, help="comma-separated fixed caps to measure (e.g. 0.1,0)")
    parser.add_argument("--distill", action="store_true", help="also: heads refit to the model's p(class)")
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args()


def train_one(data, cell: str, layers: int, args) -> tuple[object, dict, dict]:
    config = tr.TrainConfig(cell=cell, layers=layers, hidden=args.hidden, embedding_dim=args.embedding_dim,
                            epochs=args.epochs, seed=args.seed, lr=3e-3)  # fmt: skip
    net = tr.new_sequence_net(data, tr.new_embedding(data, config.embedding_dim, args.seed), config)
    result = tr.train_sequence(net, data, config)
    both = bench.model_accuracy(net, data)
    row = {"dataset": data.name, "cell": cell, "layers": layers, "epochs": args.epochs, "hidden": args.hidden,
           "seed": args.seed, "pool": args.pool, "refit_sequences": args.refit_sequences, "cap": args.cap,
           "monolithic": round(both["test"], 4), "monolithic_val": round(both["val"], 4),
           "epoch_seconds": round(sum(result.epoch_seconds) / len(result.epoch_seconds), 1)}  # fmt: skip
    for mode in ("refit", "paper"):
        cfg = dec.DecomposeConfig(mode=mode, cap=args.cap, seed=args.seed, pool=args.pool,
                                  refit_sequences=args.refit_sequences)  # fmt: skip
        r = bench.measure(net, data, cfg, both)
        row[mode] = {"composed": r["test_composed"], "delta_points": r["test_delta_points"],
                     "val_delta_points": r["val_delta_points"], "retained_mean": r["retained_mean"],
                     "total": r["total"], "seconds": r["seconds"]}  # fmt: skip
    return net, row, both


def choose_per_class(rows: list[dict], grid: list[int]) -> dict:
    """The smallest count whose mean validation loss over the models is within 0.1 points of the best."""
    mean = {k: sum(r["per_class"][str(k)]["val_delta_points"] for r in rows) / len(rows) for k in grid}
    best = max(mean.values())
    chosen = min(k for k in grid if mean[k] >= best - 0.1)
    return {"per_class_choice": chosen, "mean_val_delta_points": {str(k): round(v, 3) for k, v in mean.items()},
            "rule": "smallest count within 0.1 points of the best mean validation loss"}  # fmt: skip


def main() -> None:
    args = parse()
    data = chatterbot.load(args.task, seed=args.seed, limit=args.limit)
    print(json.dumps({"data": data.split_note, "train": len(data.train), "val": len(data.val),
                      "test": len(data.test)}), flush=True)  # fmt: skip
    models = [train_one(data, cell, layers, args) for cell in args.cells.split(",")
              for layers in (int(v) for v in args.layers.split(","))]  # fmt: skip
    grid = [int(v) for v in args.per_class_grid.split(",") if v]
    for net, row, both in models:
        for k in grid:
            cfg = dec.DecomposeConfig(cap=args.cap, per_class=k, seed=args.seed)
            row.setdefault("per_class", {})[str(k)] = bench.measure(net, data, cfg, both)
        print(json.dumps({"partial": row}), flush=True)  # the log keeps it if the run is cut short
    per_class = args.per_class or dec.DecomposeConfig.per_class
    if grid and args.per_class is None:
        choice = choose_per_class([row for _, row, _ in models], grid)
        per_class = choice["per_class_choice"]
        emit(choice, args.out)
    for net, row, both in models:
        base = dec.DecomposeConfig(per_class=per_class, seed=args.seed)
        if not args.skip_auto:
            row["refit_auto"] = {"per_class": per_class, **bench.measure(net, data, base, both)}
        if args.fill_mean:  # removed units held at their mean instead of 0, folded into biases
            row["refit_auto_mean"] = bench.measure(net, data, replace(base, fill="mean"), both)
        if args.distill:  # heads refit to the model's own p(class) instead of the labels
            row["refit_auto_distill"] = bench.measure(net, data, replace(base, refit_target="model"), both)
        if args.curve:
            row["cap_curve"] = bench.cap_curve(
                net, data, base, [float(v) for v in args.curve.split(",")], both
            )
        emit(row, args.out)


if __name__ == "__main__":
    main()
