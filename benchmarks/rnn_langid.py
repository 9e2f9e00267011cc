"""Benchmark: many-to-one decomposition for sentence language ID (chatterbot-corpus, characters).

    python benchmarks/rnn_langid.py [--cells gru,lstm] [--epochs 8] [--out results.jsonl]

Per configuration: monolithic test accuracy, composed-modules accuracy (refit and paper modes),
retained units and decomposition time against one training epoch. One JSON line each.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from _results import emit  # benchmarks/ is on sys.path when a script runs

from nnpm.datasets import chatterbot
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import train as tr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="lang", choices=["lang", "topic"])
    parser.add_argument("--cells", default="gru,lstm")
    parser.add_argument("--layers", default="1")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--embedding-dim", type=int, default=50)
    parser.add_argument("--cap", type=float, default=dec.DEFAULT_CAP)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pool", type=int, default=dec.DecomposeConfig.pool, help="sequences for unit statistics"
    )
    parser.add_argument(
        "--refit-sequences",
        type=int,
        default=dec.DecomposeConfig.refit_sequences,
        help="sequences to refit heads on",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = chatterbot.load(args.task, seed=args.seed)
    print(json.dumps({"data": data.split_note, "test": len(data.test)}), flush=True)
    for cell in args.cells.split(","):
        for layers in (int(v) for v in args.layers.split(",")):
            config = tr.TrainConfig(cell=cell, layers=layers, hidden=args.hidden, embedding_dim=args.embedding_dim,
                                    epochs=args.epochs, seed=args.seed, lr=3e-3)  # fmt: skip
            net = tr.new_sequence_net(data, tr.new_embedding(data, config.embedding_dim, args.seed), config)
            result = tr.train_sequence(net, data, config)
            mono = tr.accuracy(net, data.test)
            row = {"dataset": data.name, "cell": cell, "layers": layers, "epochs": args.epochs, "pool": args.pool,
                   "refit_sequences": args.refit_sequences, "monolithic": round(mono, 4),
                   "epoch_seconds": round(sum(result.epoch_seconds) / len(result.epoch_seconds), 1)}  # fmt: skip
            for mode in ("refit", "paper"):
                cfg = dec.DecomposeConfig(mode=mode, cap=args.cap, seed=args.seed, pool=args.pool,
                                          refit_sequences=args.refit_sequences)  # fmt: skip
                d = dec.decompose(net, data, cfg)
                index = torch.tensor([m.index for m in d.modules])
                acc = tr.accuracy_of(
                    index[dec.compose_predict([m.net for m in d.modules], data.test.x)], data.test.y
                )
                kept = [sum(len(k) for k in m.keep) for m in d.modules]
                row[mode] = {"composed": round(acc, 4), "delta_points": round(100 * (acc - mono), 2),
                             "retained_mean": round(sum(kept) / len(kept), 1), "total": sum(net.rnn.sizes),
                             "seconds": round(d.seconds, 1)}  # fmt: skip
            emit(row, args.out)


if __name__ == "__main__":
    main()
