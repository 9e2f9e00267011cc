"""MwT on Fashion-MNIST with a narrow SimCNN on CPU: standard vs modular accuracy, KRR, cohesion,
coupling, fidelity and both training times. Targets (issue 3): loss <= 1.0 point, mean module
KRR <= 20%, modular training time <= 1.3x the standard one, module fidelity >= 99%.

    python benchmarks/mwt_fmnist.py --width 0.125 --epochs 10 --max-train 20000 --out build/bench-fmnist
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nnpm.datasets.images import load_image_dataset
from nnpm.progress import Progress
from nnpm.science.cnn.mwt import modularize
from nnpm.science.cnn.train import TrainConfig


class LogReporter(Progress):
    """One line per epoch on stdout (a benchmark log, not a progress bar)."""

    def start(self, total, desc, *, unit="step") -> None:
        self.began, self.desc = time.perf_counter(), desc

    def done(self, **figures) -> None:
        shown = " ".join(f"{k}={v:.4f}" for k, v in figures.items())
        print(f"[{self.desc}] {time.perf_counter() - self.began:.1f}s {shown}", flush=True)


def print_layer_retention(report) -> None:
    """Mean share of each gated layer's kernels the modules keep: where the modules are small."""
    from nnpm.nn.cnn.spec import layout

    arch = architecture_of(report)
    widths = layout(arch).full_width
    layers = sorted(report.modules[0].retained_per_layer, key=lambda n: int(n.removeprefix("conv")))
    print("layer    width  mean kept")
    for name in layers:
        kept = sum(m.retained_per_layer[name] for m in report.modules) / len(report.modules)
        print(f"{name:<8}{widths[name]:>6}  {100 * kept / widths[name]:>8.1f}%")


def architecture_of(report):
    from nnpm.package.pack import check_package

    return check_package(Path(report.out_dir) / report.family).architecture


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="simcnn")
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument(
        "--generator-lr-scale", type=float, default=1.0, help="mask generators' lr as a multiple of --lr"
    )
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--beta", type=float, default=1.5)
    ap.add_argument("--tau", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--max-train", type=int, default=None, help="stratified subset of the official training split"
    )
    ap.add_argument("--pad", type=int, default=0, help="zero-pad inputs per side (2: 28x28 -> 32x32)")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="build/bench-fmnist")
    ap.add_argument(
        "--namespace", default="fmnist", help="package namespace (two runs published together need two)"
    )
    ap.add_argument(
        "--resume", action="store_true", help="continue from OUT/.checkpoints (finished runs: re-extract)"
    )
    args = ap.parse_args(argv)
    data = load_image_dataset("fashion-mnist", args.data_dir, seed=args.seed, max_train=args.max_train)
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        generator_lr_scale=args.generator_lr_scale,
        alpha=args.alpha,
        beta=args.beta,
        tau=args.tau,
        seed=args.seed,
        device=args.device,
    )
    report = modularize(
        data,
        args.arch,
        args.width,
        cfg,
        Path(args.out),
        args.namespace,
        pad=args.pad,
        reporter=LogReporter(),
        resume=args.resume,
    )
    d = report.to_dict()
    print(
        f"\n{args.arch} width {args.width}, {args.epochs} epochs, batch {args.batch_size}, lr {args.lr}, "
        f"alpha {args.alpha}, beta {args.beta}, tau {args.tau}, seed {args.seed}, pad {args.pad}, "
        f"generator lr x{args.generator_lr_scale}, device {report.device}"
    )
    print(f"split: {data.split_note}")
    print(f"standard accuracy  {100 * report.standard_accuracy:.2f}%  (test)")
    print(f"modular accuracy   {100 * report.modular_accuracy:.2f}%  (test)")
    print(f"loss               {report.loss_points:.2f} points   (target <= 1.0)")
    print(f"mean module KRR    {100 * report.mean_krr:.2f}%   (target <= 20%)")
    print(
        f"train cohesion/coupling loss (last epoch) {report.train_cohesion:.4f} / {report.train_coupling:.4f}"
    )
    print(f"Jaccard coupling between modules {report.jaccard_coupling:.4f}")
    print(
        f"training time standard {report.standard_seconds:.1f}s, modular {report.modular_seconds:.1f}s, "
        f"ratio {d['time_ratio']:.2f} (target <= 1.3); extraction {report.extraction_seconds:.1f}s"
    )
    print(
        f"{'class':<14}{'KRR':>8}{'bal.acc':>9}{'fidelity':>10}{'(argmax)':>10}{'Jacc.coh':>10}{'T':>7}{'bias':>7}"
    )
    for m in report.modules:
        print(
            f"{m.class_name:<14}{100 * m.krr:>7.2f}%{100 * m.balanced_accuracy:>8.2f}%{100 * m.fidelity:>9.2f}%"
            f"{100 * m.argmax_fidelity:>9.2f}%{m.jaccard_cohesion:>10.3f}{m.temperature:>7.2f}{m.score_bias:>7.2f}"
        )
    mean_bal = sum(m.balanced_accuracy for m in report.modules) / len(report.modules)
    print(
        f"mean fidelity {100 * d['mean_fidelity']:.2f}% (target >= 99%; by the module's argmax "
        f"{100 * d['mean_argmax_fidelity']:.2f}%); mean balanced accuracy {100 * mean_bal:.2f}%"
    )
    print_layer_retention(report)
    Path(args.out, "benchmark.json").write_text(json.dumps(d, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
