"""Moving weights: publish, install, `install --force` and `nnpm.load`, beside `cp` and `sha256` (issue 15).

    python benchmarks/transfer.py [--sizes 200MB,1GB] [--repeat 3] [--json results.jsonl]

For each size it generates a real package (an `mlp` of 4096-wide hidden layers, as many as
make the size, seeded weights in safetensors, packed by nnpm) in a temporary folder under /tmp,
removed at the end, and measures in the same run, page cache warm, best of --repeat:

- the yardsticks: `cp -r` of the package folder; `cp -r` then one sha256 pass over the copy (the
  faster of coreutils' `sha256sum` and Python's hashlib, which uses OpenSSL); one sha256 pass alone
  (the floor of anything that checks every byte);
- publish to a fresh local registry (`Client.publish`), against cp + sha256 (target <= 1.5x);
- a fresh install from that registry into an empty store, against `cp -r` (target <= 1.25x);
- `install --force` over the installed copy, against `cp -r`;
- `nnpm.load` (every file re-hashed, then built and loaded), against `safetensors.torch.load_file`
  plus building the same torch module (nnpm's MLP, with torch's initialisation) and
  `load_state_dict` (target <= 1.15x); the same load into a module built on the `meta` device
  and assigned is shown for scale (no hash, no initialisation, no copy: the least a load can do).

Prints a table of seconds and ratios; with --json, one JSON line per measure is appended there.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import emit  # noqa: E402

WIDTH = 4096  # the MLP's input (1x64x64) and every hidden layer
LAYER_BYTES = WIDTH * WIDTH * 4
NAME = "bench/transfer"


def parse_size(text: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9}
    text = text.strip().upper()
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def architecture(size: int):
    from nnpm.package.manifest import Architecture, InputSpec

    layers = max(1, round(size / LAYER_BYTES))
    return Architecture(
        "mlp", InputSpec((1, 64, 64), (0.5,), (0.25,)), {"hidden": [WIDTH] * layers, "num_outputs": 10}
    )


def make_package(root: Path, size: int) -> Path:
    """A packed package of about `size` bytes of float32 weights (seeded)."""
    import torch
    from packaging.version import Version

    from nnpm.nn.build import build
    from nnpm.package.manifest import Accuracy, Manifest, Metrics, Source
    from nnpm.package.naming import PackageName
    from nnpm.package.writer import write_package

    arch = architecture(size)
    manifest = Manifest(
        name=PackageName.parse(NAME),
        version=Version("1.0.0"),
        kind="model",
        description=f"benchmarks/transfer.py: {size / 1e6:.0f} MB of weights",
        license="MIT",
        source=Source(
            dataset="none", method="supervised", classes=tuple("abcdefghij"), all_classes=tuple("abcdefghij")
        ),  # fmt: skip
        architecture=arch,
        metrics=Metrics(unit="parameters", accuracy=Accuracy(0.1, "accuracy", "none", "test")),
    )
    torch.manual_seed(0)
    directory = root / "package"
    write_package(directory, manifest, build(arch).state_dict())
    return directory


def best(fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None) -> float:
    """The fastest of `repeat` runs of fn (the machines here are shared: the minimum is the cost)."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sha256_pass(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb", buffering=0) as fh:
                hashlib.file_digest(fh, "sha256")


def measure(size: int, repeat: int, tmp: Path) -> list[dict]:
    import torch
    from safetensors.torch import load_file

    import nnpm
    from nnpm.nn.build import build

    package = make_package(tmp, size)
    weights = package / "weights.safetensors"
    nbytes = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
    copy = tmp / "copy"

    def clear_copy() -> None:
        shutil.rmtree(copy, ignore_errors=True)

    def cp() -> None:
        subprocess.run(["cp", "-r", str(package), str(copy)], check=True)

    def cp_sha256sum() -> None:
        cp()
        files = [str(p) for p in sorted(copy.rglob("*")) if p.is_file()]
        subprocess.run(["sha256sum", *files], check=True, capture_output=True)

    def cp_hashlib() -> None:
        cp()
        sha256_pass(copy)

    seconds = {
        "cp -r": best(cp, repeat, clear_copy),
        "cp -r + sha256sum": best(cp_sha256sum, repeat, clear_copy),
        "cp -r + hashlib sha256": best(cp_hashlib, repeat, clear_copy),
        "one sha256 pass": best(lambda: sha256_pass(package), repeat),
    }
    clear_copy()
    cp_sha = min(seconds["cp -r + sha256sum"], seconds["cp -r + hashlib sha256"])

    published = tmp / "published"

    def fresh_registry() -> None:
        shutil.rmtree(published, ignore_errors=True)

    def publish() -> None:
        nnpm.Client(home=published, project=False).publish(package)

    seconds["publish"] = best(publish, repeat, fresh_registry)

    def empty_store() -> None:
        shutil.rmtree(published / "store", ignore_errors=True)

    def install(force: bool = False) -> None:
        nnpm.Client(home=published, project=False).install([NAME], project=False, force=force)

    seconds["fresh install"] = best(install, repeat, empty_store)
    seconds["install --force"] = best(lambda: install(force=True), repeat)
    client = nnpm.Client(home=published, project=False)
    seconds["nnpm.load"] = best(lambda: client.load(NAME, project=False), repeat)
    arch = architecture(size)

    def load_file_and_build() -> None:
        module = build(arch)
        module.load_state_dict(load_file(str(weights)))

    def meta_and_assign() -> None:
        with torch.device("meta"):
            module = build(arch)
        module.load_state_dict(load_file(str(weights)), assign=True)

    seconds["load_file + build"] = best(load_file_and_build, repeat)
    seconds["load_file + meta build, assign"] = best(meta_and_assign, repeat)
    shutil.rmtree(published, ignore_errors=True)

    params = math.prod((WIDTH, WIDTH)) * len(arch.params["hidden"])
    model = f"mlp 4096 -> {len(arch.params['hidden'])} x 4096 -> 10 (~{params / 1e6:.0f}M parameters)"
    plan = [  # measure, yardstick, target
        ("cp -r", None, None),
        ("cp -r + sha256sum", None, None),
        ("cp -r + hashlib sha256", None, None),
        ("one sha256 pass", "cp -r", None),
        ("publish", "cp -r + sha256", 1.5),
        ("fresh install", "cp -r", 1.25),
        ("install --force", "cp -r", None),
        ("nnpm.load", "load_file + build", 1.15),
        ("load_file + build", None, None),
        ("load_file + meta build, assign", "load_file + build", None),
    ]
    rows = []
    for name, yardstick, target in plan:
        base = cp_sha if yardstick == "cp -r + sha256" else seconds.get(yardstick or "")
        rows.append({
            "benchmark": "transfer", "size_bytes": nbytes, "measure": name, "seconds": round(seconds[name], 4),
            "yardstick": yardstick, "yardstick_seconds": round(base, 4) if base else None,
            "ratio": round(seconds[name] / base, 2) if base else None, "target": target, "model": model,
        })  # fmt: skip
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n{rows[0]['size_bytes'] / 1e6:,.0f} MB package; model: {rows[0]['model']}")
    print(f"  {'measure':32} {'seconds':>8}  {'yardstick':24} {'ratio':>6}  target")
    for r in rows:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else ""
        target = f"<= {r['target']}x" if r["target"] else ""
        ok = "" if not r["target"] else (" ok" if r["ratio"] <= r["target"] else " MISSED")
        print(f"  {r['measure']:32} {r['seconds']:8.3f}  {r['yardstick'] or '':24} {ratio:>6}  {target}{ok}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="200MB,1GB", help="comma-separated sizes (KB, MB, GB)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measure; the fastest counts")
    ap.add_argument("--json", type=Path, default=None, help="append one JSON line per measure to this file")
    args = ap.parse_args(argv)
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, best of {args.repeat}, page cache warm"
    )
    for text in args.sizes.split(","):
        tmp = Path(tempfile.mkdtemp(prefix="nnpm-transfer-", dir="/tmp"))
        try:
            rows = measure(parse_size(text), args.repeat, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if args.json:
            for row in rows:
                emit(row, args.json)
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
