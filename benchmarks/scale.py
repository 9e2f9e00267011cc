"""How locking, resolving and searching scale with the size of a local registry (issue 15).

    python benchmarks/scale.py [--sizes 100,1000,5000] [--repeat 3] [--out FILE]

For each size, a fresh NNPM_HOME whose local registry holds:

- 13 real packages, packed and published with nnpm's API (weights, card, blobs), that a
  project needs: a diamond (base; left and right on it; top on both), a chain of five, one
  more, and a conflict that needs backtracking (bag-module 2.0.0 wants embedding>=2 and
  boot-module wants embedding==1.0.0, so bag-module goes back to 1.0.0);
- filler packages up to the size, in groups of ten (a diamond, then a chain; two versions
  each), written with the registry's own index writer (sparse_index.write_package, the rows a
  publish writes). They have no blobs: they are resolved and searched, never installed, and
  publishing 5,000 real packages would measure publish, not resolution.

Measured, each the median of --repeat runs after one warm-up (which installs into the store,
and builds the search index):

- `nnpm lock` of the 13-package project, the CLI in a child process;
- resolving every package of the registry at once (nnpm.resolve.resolver.resolve, in this
  process, with a fresh registry object each run);
- `nnpm search embedding`, the CLI in a child process: one hit at every size, so it measures
  finding, not printing;
- `nnpm search module`, which every package matches, for scale: its output grows with the
  registry (no ratio target).

Each is printed in seconds and as a ratio to the same figure at the first size of the same run
(the yardstick). Targets: lock at 5,000 within 1.5x of lock at 100; resolving all grows about
linearly (the per-package column stays flat); search at 5,000 <= 1.5x search at 100. Machines
here are noisy and shared: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import emit
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from stress_support import ARCH, NNPM, write_safetensors

from nnpm.api import Client
from nnpm.package.families import expected_shapes
from nnpm.package.manifest import Dependency, Manifest, Source, sha256_bytes
from nnpm.package.naming import PackageName, Requirement
from nnpm.package.pack import pack
from nnpm.registry import sparse_index
from nnpm.registry.local import LocalRegistry
from nnpm.resolve.resolver import resolve

#: the project's packages: name -> version -> dependencies
REAL = {
    "proj/base": {"1.0.0": {}},
    "proj/left": {"1.0.0": {"proj/base": ">=1"}},
    "proj/right": {"1.0.0": {"proj/base": ">=1"}},
    "proj/top": {"1.0.0": {"proj/left": ">=1", "proj/right": ">=1"}},
    **{f"proj/chain-{i}": {"1.0.0": {f"proj/chain-{i - 1}": ">=1"} if i > 1 else {}} for i in range(1, 6)},
    "proj/extra": {"1.0.0": {}},
    "proj/embedding": {"1.0.0": {}, "2.0.0": {}},
    "proj/bag-module": {"1.0.0": {"proj/embedding": "==1.0.0"}, "2.0.0": {"proj/embedding": ">=2"}},
    "proj/boot-module": {"1.0.0": {"proj/embedding": "==1.0.0"}},
}
PROJECT = ["proj/top", "proj/chain-5", "proj/extra", "proj/bag-module", "proj/boot-module"]
GROUP = 10


def manifest(name: str, version: str, deps: dict[str, str], description: str) -> Manifest:
    return Manifest(
        name=PackageName.parse(name),
        version=Version(version),
        kind="module",
        description=description,
        license="MIT",
        source=Source(dataset="digits", classes=("a", "b", "c"), all_classes=("a", "b", "c")),
        architecture=ARCH,
        dependencies=tuple(Dependency(PackageName.parse(n), SpecifierSet(s)) for n, s in deps.items()),
    )


def publish_real(client: Client, work: Path) -> None:
    rng = random.Random(0)
    for name, versions in REAL.items():
        for version, deps in versions.items():
            directory = work / f"{name.replace('/', '--')}-{version}"
            directory.mkdir(parents=True)
            write_safetensors(directory / "weights.safetensors", expected_shapes(ARCH), rng)
            text = manifest(name, version, deps, "a module of the scale benchmark's project").to_toml()
            (directory / "nnpm.toml").write_text(text, encoding="utf-8")
            pack(directory)
            client.publish(directory)


def filler(root: Path, count: int) -> None:
    """`count` more packages (groups of ten, the last one cut short), through the registry's own
    index writer."""
    deps = {0: [], 1: [0], 2: [0], 3: [1, 2]} | {k: [k - 1] for k in range(4, GROUP)}
    for i in range(count):
        g, k = divmod(i, GROUP)
        name = f"fill{g % 50}/p{g}-{k}"
        rows = {}
        for version in ("1.0.0", "2.0.0"):
            wanted = {f"fill{g % 50}/p{g}-{d}": ">=1" for d in deps[k]}
            described = manifest(name, version, wanted, f"filler module {k} of group {g}")
            rows[version] = sparse_index.row_of(described, sha256_bytes(f"{name}=={version}".encode()))
        sparse_index.write_package(root, name, rows)
    sparse_index.bump_generation(root)


def timed(run, repeat: int) -> float:
    run()  # warm-up: installs into the store, builds the search index, fills the file cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(size: int, repeat: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"nnpm-scale-{size}-"))
    env = {**os.environ, "NNPM_HOME": str(home), "OMP_NUM_THREADS": "1"}
    for var in ("NNPM_REGISTRY", "NNPM_OFFLINE"):
        env.pop(var, None)
    client = Client(home=home)
    publish_real(client, home / "packages")
    root = home / "registry"
    filler(root, size - len(REAL))
    project = home / "project"
    project.mkdir()
    deps = ", ".join(f'"{n}"' for n in PROJECT)
    (project / "nnpm.toml").write_text(f'[project]\nname = "bench"\ndependencies = [{deps}]\n')

    def cli(*args: str):
        return lambda: subprocess.run(
            [*NNPM, "-q", *args], cwd=project, env=env, check=True, capture_output=True
        )

    names = LocalRegistry("local", str(root)).package_names()

    def resolve_all():
        found = resolve([Requirement.parse(n) for n in names], [LocalRegistry("local", str(root))])
        assert len(found.candidates) == len(names)

    return {
        "packages": len(names),
        "lock_s": timed(cli("lock"), repeat),
        "resolve_all_s": timed(resolve_all, repeat),
        "search_s": timed(cli("search", "embedding"), repeat),
        "search_every_s": timed(cli("search", "module"), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="registry sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also append the JSON lines here")
    args = parser.parse_args()
    rows, base = [], None
    for size in (int(s) for s in args.sizes.split(",")):
        row = measure(size, args.repeat)
        base = base or row
        row |= {
            "lock_ratio": round(row["lock_s"] / base["lock_s"], 2),
            "resolve_all_ratio": round(row["resolve_all_s"] / base["resolve_all_s"], 2),
            "resolve_all_ms_per_package": round(1000 * row["resolve_all_s"] / row["packages"], 3),
            "search_ratio": round(row["search_s"] / base["search_s"], 2),
            "search_every_ratio": round(row["search_every_s"] / base["search_every_s"], 2),
        }
        row = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
        emit({"benchmark": "scale", **row}, args.out)
        rows.append(row)
    print(f"\nmedian of {args.repeat} runs each, Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(
        "| packages | nnpm lock (13) | ratio | resolve all | ratio | ms per package "
        "| nnpm search (1 hit) | ratio | nnpm search (every package) | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['packages']:,} | {r['lock_s']:.2f} s | {r['lock_ratio']:.2f}x | {r['resolve_all_s']:.2f} s "
            f"| {r['resolve_all_ratio']:.2f}x | {r['resolve_all_ms_per_package']:.2f} | {r['search_s']:.2f} s "
            f"| {r['search_ratio']:.2f}x | {r['search_every_s']:.2f} s | {r['search_every_ratio']:.2f}x |"
        )


if __name__ == "__main__":
    main()
