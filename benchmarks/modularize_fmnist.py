"""Standard, MwT, repaired MwT and MODA on one data set, one recipe, one run (issue 12's table).

    python benchmarks/modularize_fmnist.py --epochs 20 --out build/modularize-fmnist

Trains the standard SimCNN and one modular model per method with the same seed, split and SGD
recipe; cuts one module per class (tau on the training split); then measures on the test split
only: accuracy and its loss, mean KRR, mean module size as a share of the model's parameters,
every two-class composite (45 for ten classes) without training by both composition rules
(MODA's union of units restricted to the classes, and calibrated scores) as the gap to the
standard model restricted to the same classes, the all-class composite against the modular
model, a two-module composite's forward against the standard model's (same batch, same run),
and each training time against the standard one. The rule nnpm would pick is chosen on the
validation split (carved from training) and reported beside both. With --from-epochs N, each
method in --from-methods also trains N epochs from the trained standard model (`--from`).
--sweep-taus cuts the same trained models at other thresholds: operating points beside the
default 0.9, with their validation figures; nothing is chosen on test. Trainings are checkpointed under OUT, so --resume reuses finished ones.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import torch
from _results import emit
from compose_fmnist import forward_ratio

from nnpm.datasets.images import load_image_dataset
from nnpm.nn.cnn.fuse import CALIBRATED, UNION, fuse_architectures
from nnpm.science.cnn.extract import extract_modules, parameter_count
from nnpm.science.cnn.losses import COMPACTNESS
from nnpm.science.cnn.mwt import modular_architecture, train_modular, train_standard
from nnpm.science.cnn.packaging import architecture
from nnpm.science.cnn.rules import choose_rule, class_pairs, subset_accuracy
from nnpm.science.cnn.start import StartingPoint
from nnpm.science.cnn.train import MODA_DEFAULTS, MWT_DEFAULTS, REPAIRED_DEFAULTS, TrainConfig, accuracy

METHODS = {"mwt": MWT_DEFAULTS, "mwt-repaired": REPAIRED_DEFAULTS, "moda": MODA_DEFAULTS}


def restricted_accuracy(logits: torch.Tensor, y: torch.Tensor, classes) -> float:
    keep = torch.isin(y, torch.tensor(list(classes)))
    pred = torch.tensor(list(classes))[logits[keep][:, list(classes)].argmax(1)]
    return float((pred == y[keep]).float().mean())


@torch.no_grad()
def logits_of(net, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    net.eval()
    return torch.cat([net.forward_gates(x[i : i + batch])[0] for i in range(0, len(x), batch)])


class Batched(torch.nn.Module):
    """Each module's own network on the batch, its calibrated scores side by side (no fusion)."""

    def __init__(self, networks) -> None:
        super().__init__()
        self.parts = torch.nn.ModuleList(networks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([part(x) for part in self.parts], dim=1)


BATCHED = "calibrated-batched"


def measure(label, result, std, std_logits, data, arch, args, tau: float, mass: float = 1.0) -> dict:
    """Everything the table shows for one modular model cut at `tau` (and, for MODA, trimmed to the
    channels carrying `mass` of their activation; test split: measured only)."""
    model = result.model.eval()
    modules = extract_modules(model, data, tau, model_arch=arch, batch_size=512, mass=mass)
    archs = {m.cls: m.arch for m in modules}
    nets = {m.cls: m.network.eval() for m in modules}
    total = parameter_count(model)
    rule = choose_rule(model, arch, list(archs.values()), data.val, seed=args.seed)
    pairs = class_pairs(list(archs), 45, args.seed)
    gaps = {UNION: [], CALIBRATED: [], BATCHED: []}
    pair_shares = []
    for pair in pairs:
        standard = restricted_accuracy(std_logits, data.test.y, pair)
        for r in (UNION, CALIBRATED):
            fused = fuse_architectures(model, arch, [archs[c] for c in pair], r)
            gaps[r].append(100 * (standard - subset_accuracy(fused, data.test, pair)))
        batched = Batched([nets[c] for c in pair])
        gaps[BATCHED].append(100 * (standard - subset_accuracy(batched, data.test, pair)))
        pair_shares.append(parameter_count(fused.backbone) / total)
    everything = tuple(sorted(archs))
    modular_acc = accuracy(model, data.test)
    all_class = {
        r: 100 * (modular_acc - subset_accuracy(fuse_architectures(model, arch, list(archs.values()), r),
                                                data.test, everything))
        for r in (UNION, CALIBRATED)
    }  # fmt: skip
    all_class[BATCHED] = 100 * (
        modular_acc - subset_accuracy(Batched(list(nets.values())), data.test, everything)
    )
    x = data.test.x[: args.batch]
    timed = random.Random(args.seed).sample(pairs, min(5, len(pairs)))
    unions = (fuse_architectures(model, arch, [archs[c] for c in pair], UNION) for pair in timed)
    forward = forward_ratio(std, unions, x, args.repeat)
    row = {
        "run": label,
        "method": result.config.method,
        "epochs": result.config.epochs,
        "tau": tau,
        "mass": mass,
        "standard_accuracy": accuracy(std, data.test),
        "modular_accuracy": modular_acc,
        "modular_val_accuracy": accuracy(model, data.val),
        "standard_val_accuracy": accuracy(std, data.val),
        "loss_points": 100 * (accuracy(std, data.test) - modular_acc),
        "mean_krr": statistics.mean(m.krr for m in modules),
        "mean_parameter_share": statistics.mean(m.parameters / total for m in modules),
        "model_parameters": total,
        "pairs": len(pairs),
        "pair_gap": {r: {"mean": statistics.mean(v), "worst": max(v)} for r, v in gaps.items()},
        "pair_union_share_mean": statistics.mean(pair_shares),
        "all_class_gap_to_modular": all_class,
        "validation_rule": rule.to_dict(),
        "pair_forward_ratio_median": forward,
        "training_seconds": result.seconds,
    }
    return row


def config(method: str, epochs: int, args, variant: tuple[str, float] | None = None) -> TrainConfig:
    weights = dict(METHODS[method])
    if method == "moda" and args.moda_gamma is not None:
        weights["gamma"] = args.moda_gamma
    extra = {}
    if variant is not None:  # a MODA variant: compactness scheme and gamma
        extra["compactness"], weights["gamma"] = variant
    scale = args.generator_lr_scale if method != "moda" else 1.0
    return TrainConfig(epochs=epochs, batch_size=args.batch_size, lr=args.lr, method=method, tau=args.tau,
                       seed=args.seed, generator_lr_scale=scale, **weights, **extra)  # fmt: skip


def variants(text: str) -> list[tuple[str, float]]:
    """ "cost:0.3,macs:1" -> [("cost", 0.3), ("macs", 1.0)]: MODA's compactness scheme and gamma."""
    out = []
    for item in filter(None, text.split(",")):
        scheme, _, gamma = item.partition(":")
        if scheme not in COMPACTNESS:
            raise argparse.ArgumentTypeError(
                f"unknown compactness {scheme!r} (known: {', '.join(COMPACTNESS)})"
            )
        out.append((scheme, float(gamma or MODA_DEFAULTS["gamma"])))
    return out


def variant_label(variant: tuple[str, float]) -> str:
    return f"moda {variant[0]} g{variant[1]:g}"


def print_table(rows: list[dict], std_seconds: float) -> None:
    print("\ntwo-class composites (45): gap to the standard model on the same classes, points, mean/worst; "
          "all-class: gap to the modular model")  # fmt: skip
    width = max(24, *(len(r["run"]) + 1 for r in rows))
    print(f"{'run':<{width}} acc%   loss  KRR%  size%  union        calib.fused   calib.batched  "
          "all-class u/cf/cb     rule(val)          fwd   time")  # fmt: skip
    for r in rows:
        g, a = r["pair_gap"], r["all_class_gap_to_modular"]
        pairs = "".join(f"{g[k]['mean']:>+6.2f}/{g[k]['worst']:<+7.2f}" for k in (UNION, CALIBRATED, BATCHED))
        ratio = r["training_seconds"] / std_seconds
        print(f"{r['run']:<{width}}{100 * r['modular_accuracy']:>6.2f}{r['loss_points']:>+7.2f}"
              f"{100 * r['mean_krr']:>6.1f}{100 * r['mean_parameter_share']:>7.2f}  {pairs}"
              f"{a[UNION]:>+6.2f}/{a[CALIBRATED]:+.2f}/{a[BATCHED]:<+7.2f}{r['validation_rule']['rule']:<19}"
              f"{r['pair_forward_ratio_median']:>5.2f}x{ratio:>6.2f}x")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--generator-lr-scale", type=float, default=10.0, help="both MwT runs (docs/cnn.md)")
    ap.add_argument("--moda-gamma", type=float, default=None, help="default: MODA's 0.3")
    ap.add_argument("--tau", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-train", type=int, default=None)
    ap.add_argument("--methods", default="mwt,mwt-repaired,moda", help="'' for none (only --from runs)")
    ap.add_argument("--from-epochs", type=int, default=5, help="0: no --from runs")
    ap.add_argument("--from-methods", default="moda")
    ap.add_argument("--moda-variants", type=variants, default=[],
                    help="also train MODA with these compactness schemes and gammas, e.g. cost:0.3,cost:1")  # fmt: skip
    ap.add_argument("--from-variants", type=variants, default=[], help="MODA variants also run with --from")
    ap.add_argument(
        "--sweep-taus",
        type=lambda v: [float(t) for t in v.split(",") if t],
        default=[0.95, 0.99],
        help="also cut these methods' trained models at these tau (no training; '' for none)",
    )
    ap.add_argument("--sweep-methods", type=lambda v: v.split(","), default=["mwt-repaired", "moda"])
    ap.add_argument(
        "--sweep-masses",
        type=lambda v: [float(m) for m in v.split(",") if m],
        default=[],
        help="also cut every MODA model at tau with these activation masses (extract.heaviest_units; "
        "choose one on validation with benchmarks/extraction_mass.py)",
    )
    ap.add_argument("--batch", type=int, default=512, help="images per timed forward")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("build/modularize-fmnist"))
    ap.add_argument("--resume", action="store_true", help="reuse finished trainings checkpointed under OUT")
    ap.add_argument("--json", type=Path, default=None, help="append one JSON line per run here")
    args = ap.parse_args(argv)
    unknown = {m for m in f"{args.methods},{args.from_methods}".split(",") if m} - set(METHODS)
    if unknown:
        ap.error(f"unknown method {', '.join(sorted(unknown))} (known: {', '.join(METHODS)})")
    if not all(0 < m < 1 for m in args.sweep_masses):
        ap.error(f"--sweep-masses {args.sweep_masses}: each is a share in (0, 1) (1 is the run itself)")
    data = load_image_dataset(args.dataset, args.data_dir, seed=args.seed, max_train=args.max_train)
    print(f"{args.dataset}: simcnn width {args.width}, {args.epochs} epochs, batch {args.batch_size}, lr {args.lr}, "
          f"seed {args.seed}, tau {args.tau}; {data.split_note}", flush=True)  # fmt: skip
    base = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, tau=args.tau
    )
    opts = {"resume": args.resume}
    std = train_standard(data, "simcnn", args.width, base, checkpoint_dir=args.out / "standard", **opts)
    std_model = std.model.eval()
    std_logits = logits_of(std_model, data.test.x)
    print(f"standard: {100 * accuracy(std_model, data.test):.2f}% in {std.seconds:.0f}s", flush=True)
    runs = [(m, m, args.epochs, None, None) for m in filter(None, args.methods.split(","))]
    runs += [(variant_label(v), "moda", args.epochs, None, v) for v in args.moda_variants]
    if args.from_epochs:
        std_arch = architecture("simcnn", data, args.width, gated=False)
        begin = StartingPoint(
            std_arch, {k: v.clone() for k, v in std_model.state_dict().items()}, "standard", ""
        )
        methods = filter(None, args.from_methods.split(","))
        runs += [(f"{m} --from", m, args.from_epochs, begin, None) for m in methods]
        runs += [
            (f"{variant_label(v)} --from", "moda", args.from_epochs, begin, v) for v in args.from_variants
        ]
    rows = []
    for label, method, epochs, begin, variant in runs:
        cfg = config(method, epochs, args, variant)
        folder = args.out / label.replace(" --from", "-from").replace(" ", "-")
        result = train_modular(data, "simcnn", args.width, cfg, start=begin, checkpoint_dir=folder, **opts)
        arch = modular_architecture("simcnn", data, args.width, cfg)
        if begin is not None:
            arch = replace(arch, input=begin.arch.input)
        sweep = [(t, 1.0) for t in args.sweep_taus if label in args.sweep_methods and begin is None]
        sweep += [(args.tau, m) for m in args.sweep_masses if method == "moda"]
        for tau, mass in [(args.tau, 1.0), *sweep]:
            name = label if tau == args.tau else f"{label} tau {tau}"
            row = measure(name if mass == 1 else f"{name} mass {mass:g}", result, std_model, std_logits, data,
                          arch, args, tau, mass)  # fmt: skip
            row["standard_seconds"] = std.seconds
            rows.append(row)
            emit(row, args.json)
    print_table(rows, std.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
