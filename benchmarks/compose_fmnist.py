"""Composites of MwT modules, against the standard model restricted to the same classes.

    python benchmarks/mwt_fmnist.py --seed 0 --namespace fmnist-s0 --out build/compose-fmnist-s0 ...
    python benchmarks/mwt_fmnist.py --seed 1 --namespace fmnist-s1 --out build/compose-fmnist-s1 ...
    python benchmarks/compose_fmnist.py --build build/compose-fmnist-s0 --other-build build/compose-fmnist-s1

Publishes the builds to a throw-away registry, installs them and composes through
nnpm's own API. For every 2-class subset (45), a seeded sample of 5-class subsets and
the 10-class composite, it prints the composite's accuracy on the test images of its
classes beside the standard model restricted to the same classes (argmax over those
logits only), in both forwards (fused over the union of kernels, and each module
batched), and the modular model the modules came from, restricted the same way: the
yardstick of what its modules could reach. With --finetune-epochs N, also each 2- and
5-class composite after `--finetune` (trained on the training split, its epoch chosen on
validation). Then inference cost as ratios to the standard model's forward on the same
batch, measured in the same run; and, with --other-build, a cross-model composite and
a replacement (one class served by the other model's module, per-class precision and
recall before and after). Only the test split is measured; nothing is selected on it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def publish_and_install(build: Path) -> tuple[str, list[str], str]:
    from nnpm import api
    from nnpm.package.manifest import Manifest

    manifests = {
        d: Manifest.read(d / "nnpm.toml") for d in sorted(build.iterdir()) if (d / "nnpm.toml").exists()
    }
    order = sorted(manifests, key=lambda d: manifests[d].kind != "model")  # models before their modules
    for directory in order:
        api.publish(directory)
    modules = [str(m.name) for m in manifests.values() if m.kind == "module"]
    standard = next(str(m.name) for m in manifests.values() if str(m.name).endswith("-standard"))
    modular = next(str(m.name) for m in manifests.values() if m.kind == "model" and str(m.name) != standard)
    api.install([standard, *modules], project=False)
    return standard, modules, modular


def split_seed(build: Path) -> int:
    """The seed the build's splits were drawn with: fine-tuning and choosing on validation must
    see the build's own validation images, never images it trained on."""
    from nnpm.package.manifest import Manifest

    for d in sorted(build.iterdir()):
        if (d / "nnpm.toml").exists():
            manifest = Manifest.read(d / "nnpm.toml")
            if manifest.kind == "model":
                return int(manifest.provenance.get("seed", 0))
    return 0


def batched_of(composite):
    """The same modules without the fused forward: each one runs on the batch."""
    from nnpm.nn.composite.model import Composite

    return Composite([p.network for p in composite.parts_info], composite.classes)


def restricted_accuracy(logits: torch.Tensor, y: torch.Tensor, classes: list[int]) -> float:
    keep = torch.isin(y, torch.tensor(classes))
    pred = torch.tensor(classes)[logits[keep][:, classes].argmax(1)]
    return float((pred == y[keep]).float().mean())


def composite_accuracy(scores: torch.Tensor, y: torch.Tensor, classes: list[int]) -> float:
    keep = torch.isin(y, torch.tensor(classes))
    pred = torch.tensor(classes)[scores[keep].argmax(1)]
    return float((pred == y[keep]).float().mean())


def forward_all(net, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([net(x[i : i + batch]) for i in range(0, len(x), batch)])


MODES = {
    "fused": "fused (one forward)",
    "batched": "batched (each module)",
    "fused_finetuned": "fused, fine-tuned",
    "batched_finetuned": "batched, fine-tuned",
    "modular": "source modular model",
}


def gaps(subsets, data, std_logits, mod_logits, by_class, compose_fn, finetune_epochs: int = 0) -> list[dict]:
    """Each composite beside the standard model restricted to its classes, in both forwards and,
    with finetune_epochs, after `--finetune` (fitted on train, chosen on validation). The modular
    model the modules were cut from, restricted the same way, is the yardstick of what they could reach."""
    from nnpm.composition.finetune import finetune

    rows = []
    for subset in subsets:
        classes, names = list(subset), [data.classes[c] for c in subset]
        fused = compose_fn([by_class[n] for n in names])
        row = {
            "classes": names,
            "standard": restricted_accuracy(std_logits, data.test.y, classes),
            "fused": composite_accuracy(fused.scores, data.test.y, classes),
            "batched": composite_accuracy(
                torch.cat([fused.part_scores[n] for n in names], dim=1), data.test.y, classes
            ),
        }
        if finetune_epochs:
            for mode, net in (("fused_finetuned", fused), ("batched_finetuned", batched_of(fused))):
                finetune(net, data, epochs=finetune_epochs)
                row[mode] = composite_accuracy(forward_all(net, data.test.x), data.test.y, classes)
        row["modular"] = restricted_accuracy(mod_logits, data.test.y, classes)
        rows.append(row)
    return rows


def summarise(label: str, rows: list[dict]) -> dict:
    """Mean and worst gap per forward, how many composites are within 2 points, and the worst three."""
    out = {"composites": len(rows), "rows": rows}
    print(
        f"\n{label}: gap to the standard model on the same classes, in points (positive: composite below it)"
    )
    print(f"  {'forward':<24}{'mean':>8}{'worst':>8}{'within 2':>11}  worst three")
    for mode in [k for k in MODES if k in rows[0]]:
        gap = {"+".join(r["classes"]): 100 * (r["standard"] - r[mode]) for r in rows}
        out[mode] = {
            "mean_gap_points": statistics.mean(gap.values()),
            "worst_gap_points": max(gap.values()),
            "within_2_points": sum(v <= 2.0 for v in gap.values()),
        }
        worst = sorted(gap.items(), key=lambda kv: kv[1], reverse=True)[:3] if len(rows) > 1 else []
        print(
            f"  {MODES[mode]:<24}{out[mode]['mean_gap_points']:>+8.2f}{out[mode]['worst_gap_points']:>+8.2f}"
            f"{out[mode]['within_2_points']:>7}/{len(rows):<3}  "
            + ", ".join(f"{k} {v:+.2f}" for k, v in worst)
        )
    return out


def time_forward(net, x: torch.Tensor, repeat: int) -> float:
    with torch.no_grad():
        net(x)
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            net(x)
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def forward_ratio(yardstick, networks, x: torch.Tensor, repeat: int) -> float:
    """Median over `networks` of each one's forward time over the yardstick's on the same `x`, each
    timed right after the yardstick so that both see the same machine."""
    return statistics.median(
        time_forward(net, x, repeat) / time_forward(yardstick, x, repeat) for net in networks
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, required=True, help="a modularize output (with <family>-standard)")
    ap.add_argument("--other-build", type=Path, help="a second model's build for cross-model and replacement")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument(
        "--pairs", type=int, default=45, help="how many of the 45 2-class subsets (seeded sample)"
    )
    ap.add_argument("--five", type=int, default=20, help="how many 5-class subsets to sample (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256, help="batch size for the inference-cost timings")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument(
        "--finetune-epochs", type=int, default=0, help="also fine-tune every 2- and 5-class composite (0: no)"
    )
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if not 1 <= args.pairs <= 45:
        ap.error(f"--pairs {args.pairs}: there are 45 pairs of Fashion-MNIST's 10 classes; give 1 to 45")
    os.environ["NNPM_HOME"] = tempfile.mkdtemp(prefix="nnpm-compose-bench-")
    torch.set_num_threads(os.cpu_count() or 1)

    from nnpm import api
    from nnpm.api import compose
    from nnpm.datasets.images import load_image_dataset

    standard_name, modules, modular_name = publish_and_install(args.build)
    standard = api.load(standard_name, project=False)
    data = load_image_dataset("fashion-mnist", args.data_dir, seed=split_seed(args.build))
    std_logits = forward_all(standard, data.test.x)
    mod_logits = forward_all(api.load(modular_name, project=False), data.test.x)
    by_class = {}
    for name in modules:
        net = api.load(name, project=False)
        by_class[net.manifest.source.classes[0]] = name
    part_scores = {}

    def compose_fn(names: list[str]):
        net = compose(*names, project=False)
        net.scores = forward_all(net, data.test.x)
        for part in net.parts_info:
            cls = part.classes[0]
            if cls not in part_scores:
                part_scores[cls] = forward_all(part.network, data.test.x)
        net.part_scores = part_scores
        return net

    print(f"standard model {standard_name}: {100 * float((std_logits.argmax(1) == data.test.y).float().mean()):.2f}% "
          f"on the {len(data.test)} official test images (the only split measured here)")  # fmt: skip
    results: dict = {"standard": standard_name, "measured_on": f"official test split ({len(data.test)})"}
    pairs = list(itertools.combinations(range(10), 2))
    if args.pairs < len(pairs):
        pairs = sorted(random.Random(args.seed).sample(pairs, args.pairs))
    fives = random.Random(args.seed).sample(list(itertools.combinations(range(10), 5)), args.five)
    results["pairs"] = summarise(
        f"2-class composites ({len(pairs)} of 45)",
        gaps(pairs, data, std_logits, mod_logits, by_class, compose_fn, args.finetune_epochs),
    )
    results["fives"] = summarise(
        f"5-class composites ({args.five}, sampled with seed {args.seed})",
        gaps(fives, data, std_logits, mod_logits, by_class, compose_fn, args.finetune_epochs),
    )
    results["ten"] = summarise(
        "10-class composite", gaps([tuple(range(10))], data, std_logits, mod_logits, by_class, compose_fn)
    )
    results["cost"] = inference_cost(standard, by_class, data, args, compose)
    if args.other_build:
        results["cross"] = cross_model(args, data, by_class, compose)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def inference_cost(standard, by_class, data, args, compose) -> dict:

    x = data.test.x[: args.batch]
    two = [by_class[data.classes[c]] for c in (7, 9)]  # sneaker, ankle boot
    all_ten = [by_class[c] for c in data.classes]
    yard = time_forward(standard, x, args.repeat)
    rows = {"standard model (yardstick)": yard}
    for label, names in (("2 modules", two), ("10 modules", all_ten)):
        fused = compose(*names, project=False)
        batched = batched_of(fused)
        rows[f"{label}, fused"] = time_forward(fused, x, args.repeat)
        rows[f"{label}, batched"] = time_forward(batched, x, args.repeat)
    print(
        f"\ninference on a batch of {len(x)} images, median of {args.repeat} runs, {torch.get_num_threads()} threads"
    )
    for label, seconds in rows.items():
        print(f"{label:<28}{1000 * seconds:9.2f} ms  {seconds / yard:6.2f}x")
    return {k: {"seconds": v, "ratio": v / yard} for k, v in rows.items()}


def cross_model(args, data, by_class, compose) -> dict:
    """Modules of two models in one composite, and one class patched with the other model's module."""
    from nnpm.composition.evaluate import composite_accuracy as per_class_accuracy

    _, other_modules, _ = publish_and_install(args.other_build)
    other = {api_load_class(name): name for name in other_modules}
    mixed = [by_class[c] if i % 2 == 0 else other[c] for i, c in enumerate(data.classes)]
    net = compose(*mixed, project=False)
    acc, n, _ = per_class_accuracy(net, data.test, data)
    print(f"\ncross-model 10-class composite (even classes from {args.build.name}, odd from "
          f"{args.other_build.name}), {net.mode}: {100 * acc:.2f}% on {n} test images")  # fmt: skip
    base = compose(*[by_class[c] for c in data.classes], project=False)
    _, _, val_stats = per_class_accuracy(base, data.val, data)  # chosen on validation, never on test
    weakest = min(data.classes, key=lambda c: val_stats[c].recall)
    patched = compose(*[by_class[c] for c in data.classes], replace={weakest: other[weakest]}, project=False)
    before, _, pr_before = per_class_accuracy(base, data.test, data)
    after, _, pr_after = per_class_accuracy(patched, data.test, data)
    print(f"replacement of the weakest class by validation recall ({weakest}) with {other[weakest]}: "
          f"{100 * before:.2f}% -> {100 * after:.2f}% ({base.mode} -> {patched.mode})")  # fmt: skip
    print(f"{'class':<14}{'P before':>10}{'R before':>10}{'P after':>10}{'R after':>10}")
    for c in data.classes:
        b, a = pr_before[c], pr_after[c]
        print(f"{c:<14}{b.precision:>10.4f}{b.recall:>10.4f}{a.precision:>10.4f}{a.recall:>10.4f}")
    return {
        "mixed_accuracy": acc,
        "mixed_mode": net.mode,
        "replaced": weakest,
        "before": before,
        "after": after,
    }


def api_load_class(name: str) -> str:
    from nnpm import api

    return api.load(name, project=False).manifest.source.classes[0]


if __name__ == "__main__":
    sys.exit(main())
