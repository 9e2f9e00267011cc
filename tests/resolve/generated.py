"""Generated registries for the resolution tests: thousands of packages in seconds, written through
the local registry's own index writer (sparse_index.write_package), not by hand. They hold rows only
(no manifests or blobs): enough to resolve, not to install."""

from __future__ import annotations

from pathlib import Path

from nnpm.package.manifest import sha256_bytes
from nnpm.registry import sparse_index
from nnpm.registry.local import LocalRegistry
from tests.factories import make_manifest

GROUP = 10


def group_packages(g: int) -> dict[str, dict[str, dict[str, str]]]:
    """Group g: name -> version -> dependencies. A diamond (1 and 2 on 0, 3 on both), then a chain
    4..9 each on the one before; 5's 2.0.0 wants 4<2, so resolving both picks 4 1.0.0."""
    names = [f"ns{g % 20}/p{g}-{k}" for k in range(GROUP)]
    deps: dict[int, list[int]] = {0: [], 1: [0], 2: [0], 3: [1, 2]} | {k: [k - 1] for k in range(4, GROUP)}
    found = {}
    for k, name in enumerate(names):
        found[name] = {}
        for version in ("1.0.0", "2.0.0"):
            wanted = {names[d]: ">=1" for d in deps[k]}
            if k == 5 and version == "2.0.0":
                wanted[names[4]] = "<2"
            found[name][version] = wanted
    return found


CONFLICT = {  # resolving bag and boot together needs backtracking: bag 2.0.0 wants an embedding boot refuses
    "conflict/embedding": {"1.0.0": {}, "2.0.0": {}},
    "conflict/bag-module": {
        "1.0.0": {"conflict/embedding": "==1.0.0"},
        "2.0.0": {"conflict/embedding": ">=2"},
    },
    "conflict/boot-module": {"1.0.0": {"conflict/embedding": "==1.0.0"}},
}


def write(root: Path, packages: dict[str, dict[str, dict[str, str]]]) -> None:
    for name, versions in packages.items():
        rows = {
            v: sparse_index.row_of(make_manifest(name, v, deps=deps), sha256_bytes(f"{name}=={v}".encode()))
            for v, deps in versions.items()
        }
        sparse_index.write_package(root, name, rows)
    sparse_index.bump_generation(root)


def generate(root: Path, n: int, *, conflict: bool = True) -> LocalRegistry:
    """A registry of about n packages (whole groups of GROUP, plus the three of CONFLICT)."""
    packages: dict[str, dict[str, dict[str, str]]] = {}
    for g in range(max(1, n // GROUP)):
        packages.update(group_packages(g))
    if conflict:
        packages.update(CONFLICT)
    write(root, packages)
    return LocalRegistry("local", str(root))
