"""Composites of MwT modules without fine-tuning, against the standard model on the same classes.

    python benchmarks/mwt_fmnist.py --seed 0 --namespace fmnist-s0 --out build/compose-fmnist-s0 ...
    python benchmarks/mwt_fmnist.py --seed 1 --namespace fmnist-s1 --out build/compose-fmnist-s1 ...
    python benchmarks/compose_fmnist.py --build build/compose-fmnist-s0 --other-build build/compose-fmnist-s1

Publishes the builds to a throw-away registry, installs them and composes through
nnpm's own API. For every 2-class subset (45), a seeded sample of 5-class subsets and
the 10-class composite, it prints the composite's accuracy on the test images of its
classes beside the standard model restricted to the same classes (argmax over those
logits only), in both forwards (fused over the union of kernels, and each module
batched). Then inference cost as ratios to the standard model's forward on the same
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


def publish_and_install(build: Path) -> tuple[str, list[str]]:
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
    api.install([standard, *modules], project=False)
    return standard, modules


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


def gaps(subsets, data, std_logits, by_class, compose_fn) -> list[dict]:
    rows = []
    for subset in subsets:
        names = [data.classes[c] for c in subset]
        fused = compose_fn([by_class[n] for n in names])
        batched_scores = torch.cat([fused.part_scores[n] for n in names], dim=1)
        std = restricted_accuracy(std_logits, data.test.y, list(subset))
        rows.append(
            {
                "classes": names,
                "standard": std,
                "fused": composite_accuracy(fused.scores, data.test.y, list(subset)),
                "batched": composite_accuracy(batched_scores, data.test.y, list(subset)),
            }
        )
    return rows


def summarise(label: str, rows: list[dict]) -> dict:
    """Mean and worst gap per forward, how many composites are within 2 points, and the worst three."""
    out = {"composites": len(rows), "rows": rows}
    for mode in ("fused", "batched"):
        g = [100 * (r["standard"] - r[mode]) for r in rows]
        out[mode] = {
            "mean_gap_points": statistics.mean(g),
            "worst_gap_points": max(g),
            "within_2_points": sum(v <= 2.0 for v in g),
        }
    print(
        f"{label:<22}{len(rows):>5}  fused: mean gap {out['fused']['mean_gap_points']:+6.2f} worst "
        f"{out['fused']['worst_gap_points']:+6.2f}   batched: mean gap {out['batched']['mean_gap_points']:+6.2f} "
        f"worst {out['batched']['worst_gap_points']:+6.2f}  (points; positive = composite below standard)"
    )
    if len(rows) > 1:
        worst = sorted(rows, key=lambda r: r["standard"] - r["fused"], reverse=True)[:3]
        shown = ", ".join(
            f"{'+'.join(r['classes'])} {100 * (r['standard'] - r['fused']):+.2f}" for r in worst
        )
        print(
            f"{'':<27}within 2 points (fused): {out['fused']['within_2_points']}/{len(rows)}; worst: {shown}"
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, required=True, help="a modularize output (with <family>-standard)")
    ap.add_argument("--other-build", type=Path, help="a second model's build for cross-model and replacement")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--five", type=int, default=20, help="how many 5-class subsets to sample (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256, help="batch size for the inference-cost timings")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    os.environ["NNPM_HOME"] = tempfile.mkdtemp(prefix="nnpm-compose-bench-")
    torch.set_num_threads(os.cpu_count() or 1)

    from nnpm import api
    from nnpm.compose.assemble import compose
    from nnpm.datasets.images import load_image_dataset

    standard_name, modules = publish_and_install(args.build)
    standard = api.load(standard_name, project=False)
    data = load_image_dataset("fashion-mnist", args.data_dir)
    std_logits = forward_all(standard, data.test.x)
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
    fives = random.Random(args.seed).sample(list(itertools.combinations(range(10), 5)), args.five)
    results["pairs"] = summarise("2-class composites", gaps(pairs, data, std_logits, by_class, compose_fn))
    results["fives"] = summarise(
        f"5-class (seed {args.seed})", gaps(fives, data, std_logits, by_class, compose_fn)
    )
    results["ten"] = summarise(
        "10-class composite", gaps([tuple(range(10))], data, std_logits, by_class, compose_fn)
    )
    results["cost"] = inference_cost(standard, by_class, data, args, compose)
    if args.other_build:
        results["cross"] = cross_model(args, data, by_class, compose)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def inference_cost(standard, by_class, data, args, compose) -> dict:
    from nnpm.compose.composite import Composite

    x = data.test.x[: args.batch]
    two = [by_class[data.classes[c]] for c in (7, 9)]  # sneaker, ankle boot
    all_ten = [by_class[c] for c in data.classes]
    yard = time_forward(standard, x, args.repeat)
    rows = {"standard model (yardstick)": yard}
    for label, names in (("2 modules", two), ("10 modules", all_ten)):
        fused = compose(*names, project=False)
        batched = Composite([p.network for p in fused.parts_info], fused.classes)
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
    from nnpm.compose.evaluate import composite_accuracy as per_class_accuracy

    _, other_modules = publish_and_install(args.other_build)
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
