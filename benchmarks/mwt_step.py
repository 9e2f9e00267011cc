"""Cost of one MwT training step against the standard step, measured in the same run.

    python benchmarks/mwt_step.py --arch simcnn --width 0.125 --steps 100
    python benchmarks/mwt_step.py --arch vgg16 --width 1 --pad 2 --steps 200 --device cuda

Both models train with nnpm's own loop (`nnpm.science.cnn.train.train`) on the first
`--steps` batches of Fashion-MNIST's training split for `--epochs` epochs; the first epoch
warms up (allocators, cuDNN's kernel choice) and the table reports the last one, per step,
with the standard model as the yardstick. The figure issue 3 asks about is the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from _results import emit  # benchmarks/ is on sys.path when a script runs

from nnpm.datasets.images import load_image_dataset
from nnpm.progress import Progress
from nnpm.science.cnn.mwt import train_modular, train_standard
from nnpm.science.cnn.train import TrainConfig


class EpochClock(Progress):
    """Seconds per step of every epoch, from the loop's own epoch hooks (validation pass included)."""

    def __init__(self) -> None:
        self.per_step: list[float] = []

    def start(self, total, desc, *, unit="step") -> None:
        self.began, self.steps = time.perf_counter(), total

    def done(self, **figures) -> None:
        self.per_step.append((time.perf_counter() - self.began) / self.steps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="simcnn")
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--pad", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100, help="batches per epoch")
    ap.add_argument("--epochs", type=int, default=2, help="the last one is reported")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, help="also append the figures as a JSON line to this file")
    args = ap.parse_args(argv)
    full = load_image_dataset("fashion-mnist", args.data_dir, seed=0)
    first = lambda split, n: split.subset(torch.arange(min(n, len(split))))  # noqa: E731
    data = replace(
        full, train=first(full.train, args.steps * args.batch_size), val=first(full.val, args.batch_size)
    )
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=0, device=args.device)
    rows = {}
    for run, fn in (("standard (yardstick)", train_standard), ("modular (MwT)", train_modular)):
        clock = EpochClock()
        result = fn(data, args.arch, args.width, cfg, pad=args.pad, reporter=clock)
        rows[run] = clock.per_step[-1]
    yard = rows["standard (yardstick)"]
    print(f"{args.arch} width {args.width}, pad {args.pad}, batch {args.batch_size}, {args.steps} steps, "
          f"epoch {args.epochs} of {args.epochs}, device {result.device}")  # fmt: skip
    print(f"{'run':<24}{'ms / step':>10}{'x standard':>12}")
    for run, seconds in rows.items():
        print(f"{run:<24}{1000 * seconds:>10.2f}{seconds / yard:>12.2f}")
    row = {k: v for k, v in vars(args).items() if k not in ("data_dir", "out")}
    emit({**row, "device": result.device, "ms_per_step": {k: 1000 * v for k, v in rows.items()}}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
