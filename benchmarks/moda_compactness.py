"""How MODA's compactness should weigh its layers, measured on the validation split only.

    python benchmarks/moda_compactness.py --epochs 5 --variants layers:0.3,macs:0.3,cost:0.3

Trains the standard SimCNN and one MODA model per variant (`scheme:gamma`, TrainConfig.compactness
and gamma) with the same seed, split and SGD recipe, cuts one module per class at tau on the
training split, and prints, on the validation split (carved from training; test is not read):
accuracy and its loss against the standard model, mean KRR, mean module size (share of the model's
parameters), the mean and largest share of the model's multiply-adds that a two-class union runs,
and every two-class composite by union as the gap to the standard model on the same classes. This
is what chose the default `--compactness`; benchmarks/modularize_fmnist.py then measures the chosen
one on test beside MwT.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from _results import emit
from modularize_fmnist import logits_of, restricted_accuracy, variants

from nnpm.datasets.images import load_image_dataset
from nnpm.nn.cnn.fuse import UNION, fuse_architectures, union_of_kernels
from nnpm.nn.cnn.spec import layout, multiply_adds
from nnpm.science.cnn.extract import extract_modules, parameter_count
from nnpm.science.cnn.mwt import modular_architecture, train_modular, train_standard
from nnpm.science.cnn.rules import class_pairs, subset_accuracy
from nnpm.science.cnn.train import TrainConfig, accuracy


def measure(label: str, model, arch, std_val_logits, data, tau: float, seed: int) -> dict:
    model = model.eval()
    modules = extract_modules(model, data, tau, model_arch=arch, batch_size=512)
    archs = {m.cls: m.arch for m in modules}
    total, full_macs = parameter_count(model), sum(multiply_adds(layout(arch)).values())
    gaps, shares = [], []
    for pair in class_pairs(list(archs), 45, seed):
        fused = fuse_architectures(model, arch, [archs[c] for c in pair], UNION)
        standard = restricted_accuracy(std_val_logits, data.val.y, pair)
        gaps.append(100 * (standard - subset_accuracy(fused, data.val, pair)))
        union = replace(arch, retained=union_of_kernels([archs[c] for c in pair]))
        shares.append(sum(multiply_adds(layout(union)).values()) / full_macs)
    return {
        "run": label,
        "val_accuracy": accuracy(model, data.val),
        "mean_krr": statistics.mean(m.krr for m in modules),
        "mean_parameter_share": statistics.mean(m.parameters / total for m in modules),
        "pair_macs_share": {"mean": statistics.mean(shares), "max": max(shares)},
        "pair_union_val_gap": {"mean": statistics.mean(gaps), "worst": max(gaps)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--tau", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-train", type=int, default=None)
    ap.add_argument("--variants", type=variants,
                    default=[("layers", 0.3), ("macs", 0.3), ("cost", 0.3)])  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("build/moda-compactness"))
    ap.add_argument("--resume", action="store_true", help="reuse finished trainings checkpointed under OUT")
    ap.add_argument("--json", type=Path, default=None, help="append one JSON line per run here")
    args = ap.parse_args(argv)
    data = load_image_dataset(args.dataset, args.data_dir, seed=args.seed, max_train=args.max_train)
    base = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, tau=args.tau
    )
    print(f"{args.dataset}: simcnn width {args.width}, {args.epochs} epochs, batch {args.batch_size}, "
          f"lr {args.lr}, seed {args.seed}, tau {args.tau}; {data.split_note}; validation only", flush=True)  # fmt: skip
    std = train_standard(
        data, "simcnn", args.width, base, checkpoint_dir=args.out / "standard", resume=args.resume
    )
    std_val = accuracy(std.model.eval(), data.val)
    std_val_logits = logits_of(std.model, data.val.x)
    rows = []
    for scheme, gamma in args.variants:
        cfg = replace(base, method="moda", alpha=1.0, beta=1.0, gamma=gamma, compactness=scheme)
        label = f"{scheme} gamma {gamma:g}"
        result = train_modular(data, "simcnn", args.width, cfg, checkpoint_dir=args.out / label.replace(" ", "-"),
                               resume=args.resume)  # fmt: skip
        arch = modular_architecture("simcnn", data, args.width, cfg)
        row = measure(label, result.model, arch, std_val_logits, data, args.tau, args.seed)
        row.update(
            loss_points=100 * (std_val - row["val_accuracy"]), seconds_ratio=result.seconds / std.seconds
        )
        rows.append(row)
        emit(row, args.json)
    print(f"\nvalidation split; standard {100 * std_val:.2f}%")
    print("variant              val%   loss  KRR%  size%  union MACs mean/max  union gap mean/worst  time")
    for r in rows:
        m, g = r["pair_macs_share"], r["pair_union_val_gap"]
        macs = f"{100 * m['mean']:.1f}% / {100 * m['max']:.1f}%"
        print(f"{r['run']:<19}{100 * r['val_accuracy']:>6.2f}{r['loss_points']:>+7.2f}{100 * r['mean_krr']:>6.1f}"
              f"{100 * r['mean_parameter_share']:>7.2f}  {macs:>19}  {g['mean']:>+9.2f} / {g['worst']:<+8.2f}"
              f"{r['seconds_ratio']:>6.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
