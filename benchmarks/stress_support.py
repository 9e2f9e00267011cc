"""What benchmarks/stress.py runs and checks: small multi-file packages, the real CLI in a child
process, and the consistency checks after each kill or round (a store that verifies, a registry
index that agrees with its blobs, nothing left behind)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

from packaging.version import Version

from nnpm.errors import NnpmError
from nnpm.package.families import expected_shapes
from nnpm.package.manifest import Architecture, InputSpec, Manifest, Source
from nnpm.package.naming import PackageName
from nnpm.package.pack import pack
from nnpm.registry.sparse_index import snapshot

ARCH = Architecture("mlp", InputSpec((1, 8, 8), (0.3,), (0.4,)), {"hidden": [16], "num_outputs": 3})
DATA_BYTES = 2 * 1024 * 1024
_NNPM = Path(sys.executable).with_name("nnpm")
NNPM = [str(_NNPM)] if _NNPM.exists() else [sys.executable, "-c", "from nnpm.cli import main; main()"]


# --- packages --------------------------------------------------------------------------------------


def write_safetensors(path: Path, shapes: dict[str, tuple[int, ...]], rng: random.Random) -> None:
    """A safetensors file of float32 tensors, written by hand (no torch needed)."""
    header, data = {}, bytearray()
    for name in sorted(shapes):
        count = math.prod(shapes[name])
        header[name] = {
            "dtype": "F32",
            "shape": list(shapes[name]),
            "data_offsets": [len(data), len(data) + 4 * count],
        }
        data += struct.pack(f"<{count}f", *(rng.uniform(-0.1, 0.1) for _ in range(count)))
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(data))


def make_package(root: Path, name: str, version: str, rng: random.Random, shared: bytes) -> Path:
    """A packed multi-file package: weights split over two safetensors files, a data file every
    version shares (one blob) and one of its own."""
    directory = root / f"{name.replace('/', '--')}-{version}"
    (directory / "data").mkdir(parents=True)
    shapes = expected_shapes(ARCH)
    names = sorted(shapes)
    write_safetensors(directory / "weights.safetensors", {n: shapes[n] for n in names[::2]}, rng)
    write_safetensors(directory / "head.safetensors", {n: shapes[n] for n in names[1::2]}, rng)
    (directory / "data" / "shared.bin").write_bytes(shared)
    (directory / "data" / "own.bin").write_bytes(rng.randbytes(DATA_BYTES))
    manifest = Manifest(
        name=PackageName.parse(name),
        version=Version(version),
        kind="model",
        description="a stress-test package",
        license="MIT",
        source=Source(dataset="digits", classes=("a", "b", "c"), all_classes=("a", "b", "c")),
        architecture=ARCH,
    )
    (directory / "nnpm.toml").write_text(manifest.to_toml(), encoding="utf-8")
    pack(directory)
    return directory


# --- running the CLI -------------------------------------------------------------------------------


class Runner:
    def __init__(self, home: Path, cwd: Path) -> None:
        self.env = {**os.environ, "NNPM_HOME": str(home), "OMP_NUM_THREADS": "1"}
        for var in ("NNPM_REGISTRY", "NNPM_OFFLINE", "HF_HUB_OFFLINE", "HF_TOKEN"):
            self.env.pop(var, None)
        self.cwd = cwd
        self.home = home

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*NNPM, "-q", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def run(self, *args: str) -> tuple[int, str, float]:
        began = time.perf_counter()
        proc = self.start(*args)
        _, err = proc.communicate(timeout=300)
        return proc.returncode, err.decode("utf-8", "replace"), time.perf_counter() - began


def workspace(work: Path, prefix: str, rng: random.Random) -> tuple[Runner, Path, Path, Path, Path, bytes]:
    """A loop's own NNPM_HOME, working and build folders: (runner, cwd, build, registry, store, the
    bytes every package version shares)."""
    home, cwd, build = work / f"{prefix}-home", work / f"{prefix}-cwd", work / f"{prefix}-build"
    for d in (cwd, build):
        d.mkdir(parents=True)
    return Runner(home, cwd), cwd, build, home / "registry", home / "store", rng.randbytes(DATA_BYTES)


# --- consistency checks ----------------------------------------------------------------------------

_HASHES: dict[tuple, str] = {}


def _sha256(path: Path) -> str:
    info = path.stat()
    key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
    if key not in _HASHES:
        with path.open("rb") as fh:
            _HASHES[key] = hashlib.file_digest(fh, "sha256").hexdigest()
    return _HASHES[key]


def registry_problems(root: Path) -> list[str]:
    """Every indexed version has its manifest (with the indexed digest) and every blob it lists."""
    try:
        index = snapshot(root)
    except NnpmError as exc:
        return [f"the index is unreadable: {exc.one_line()}"]
    problems = []
    for name, rows in index.items():
        namespace, short = name.split("/")
        for version, row in rows.items():
            path = root / "packages" / namespace / short / version / "nnpm.toml"
            if not path.is_file() or _sha256(path) != row["sha256"]:
                problems.append(f"{name}=={version}: manifest missing or not the indexed one")
                continue
            for rel, entry in Manifest.from_toml(path.read_text(encoding="utf-8")).files.items():
                blob = root / "blobs" / "sha256" / entry.sha256[:2] / entry.sha256
                if not blob.is_file() or blob.stat().st_size != entry.size or _sha256(blob) != entry.sha256:
                    problems.append(f"{name}=={version}: blob for {rel} missing or corrupt")
    return problems


def store_leftovers(store: Path) -> list[str]:
    """What a finished writer must not leave: staged copies in tmp/, blobs no package links."""
    tmp = store / "tmp"
    left = [f"tmp/{p.name}" for p in tmp.iterdir()] if tmp.is_dir() else []
    left += [
        f"unlinked blob {p.name[:12]}" for p in (store / "blobs").glob("sha256/*/*") if p.stat().st_nlink == 1
    ]
    return left


def registry_leftovers(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*.tmp")]


def installed(store: Path) -> set[str]:
    """name==version of every package with an install record (read as nnpm reads them)."""
    from nnpm.store.store import Store

    return {f"{p.name}=={p.version}" for p in Store(store).installed()}
