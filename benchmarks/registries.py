"""Publish and install through each kind of registry, beside a plain copy of the same bytes (issue 14).

    python benchmarks/registries.py [--size-mb 200] [--files 4] [--repeats 3]
                                    [--registries local,oci,hub] [--json results.jsonl]

It generates one real package in a temporary folder under /tmp (removed at the end): an `mlp` of
`--files` square hidden layers, seeded float32 weights, one safetensors file per layer (the last
one also holds the 10-way output layer), about `--size-mb` MB in all, packed by nnpm. Version
1.1.0 is the same package with one weights file regenerated (another seed).

For each registry, each of `--repeats` rounds starts from nothing (a new NNPM_HOME; for OCI a new
docker-registry on a free loopback port, for the Hub a new `nnpm.testing.HubServer`, in this
process) and measures, each yardstick right before its measure, page cache warm:

- `cp -r` + `sha256sum` of the package folder, then `Client.publish` of 1.0.0;
- `cp -r` of the package folder, one sha256 pass over it (hashlib, i.e. OpenSSL: the least any
  install that checks every byte can do), then a fresh `Client.install` of 1.0.0 into an empty store
  (for the local registry the store beside it; for OCI and the Hub a second new NNPM_HOME);
- the publish of 1.1.0, and the bytes it sent: the blob files it wrote in the local registry (new
  ones and rewritten ones: a new inode), the OCI client's `stats.bytes_uploaded` (blobs, the
  nnpm.toml config included), the Hub's LFS uploads (nnpm.toml and the card travel inline in
  the commit), beside the size of the changed file.

The local directory is the embedded `local` registry; OCI is `registry add team
oci://127.0.0.1:PORT/ml-team` (skipped, saying so, when docker-registry is not installed: Debian's
`apt-get install docker-registry`); the Hub is `registry add hub hf://my-org --endpoint URL` with
HF_TOKEN set. Prints the medians, MB/s, and each speed as a multiple of the yardstick's (target
for install from the local and OCI registries: >= 0.8x `cp -r`); with --json one JSON line per
measure is appended there. Nothing is asserted: the table is the result.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import emit  # noqa: E402
from registries_support import BlobsWritten  # noqa: E402

from nnpm.testing.oci_registry import REGISTRY_BIN, docker_registry  # noqa: E402

NAME = "bench/registries"
TOKEN = "hf_bench_token_0123456789"
INSTALL_TARGET = 0.8  # install speed / cp -r speed, local and OCI registries (issue 14)


# --- the package ---------------------------------------------------------------------------------


def weights_name(i: int) -> str:
    return f"weights-{i}.safetensors"


def architecture(size_mb: float, files: int):
    from nnpm.package.manifest import Architecture, InputSpec

    width = max(8, round(math.sqrt(size_mb * 1e6 / (4 * files))))
    return Architecture("mlp", InputSpec((1, 1, width)), {"hidden": [width] * files, "num_outputs": 10})


def write_weights(path: Path, arch, layers: list[int], seed: int) -> None:
    """Seeded normal weights (scaled as torch's default init would) for `layers`, as safetensors."""
    import numpy as np
    from safetensors.numpy import save_file

    from nnpm.package.families import expected_shapes

    rng, shapes = np.random.default_rng(seed), expected_shapes(arch)
    tensors = {}
    for layer in layers:
        for kind in ("weight", "bias"):
            shape = shapes[f"layers.{layer}.{kind}"]
            scale = 1 / math.sqrt(shapes[f"layers.{layer}.weight"][1])
            tensors[f"layers.{layer}.{kind}"] = rng.standard_normal(shape, dtype=np.float32) * np.float32(
                scale
            )
    save_file(tensors, str(path))


def write_manifest(directory: Path, arch, version: str, size_mb: float) -> None:
    from packaging.version import Version

    from nnpm.package.manifest import MANIFEST_NAME, Accuracy, Manifest, Metrics, Source
    from nnpm.package.naming import PackageName

    classes = tuple("abcdefghij")
    manifest = Manifest(
        name=PackageName.parse(NAME), version=Version(version), kind="model",
        description=f"benchmarks/registries.py: {size_mb:g} MB of weights", license="MIT",
        source=Source(dataset="none", method="supervised", classes=classes, all_classes=classes),
        architecture=arch, metrics=Metrics(unit="parameters", accuracy=Accuracy(0.1, "accuracy", "none", "test")),
    )  # fmt: skip
    (directory / MANIFEST_NAME).write_text(manifest.to_toml(), encoding="utf-8")


def make_packages(root: Path, size_mb: float, files: int) -> tuple[Path, Path, str]:
    """Versions 1.0.0 and 1.1.0 (file `changed` regenerated, the others byte for byte the same)."""
    from nnpm.package.pack import pack

    arch = architecture(size_mb, files)
    first, second = root / "package-1.0.0", root / "package-1.1.0"
    changed = files // 2
    for directory in (first, second):
        directory.mkdir(parents=True)
    for i in range(files):
        layers = [i, files] if i == files - 1 else [i]  # the last file also holds the output layer
        write_weights(first / weights_name(i), arch, layers, seed=i)
        if i == changed:
            write_weights(second / weights_name(i), arch, layers, seed=100 + i)
        else:
            shutil.copyfile(first / weights_name(i), second / weights_name(i))
    for directory, version in ((first, "1.0.0"), (second, "1.1.0")):
        write_manifest(directory, arch, version, size_mb)
        pack(directory)
    return first, second, weights_name(changed)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# --- the registries ------------------------------------------------------------------------------


@dataclass
class Round:
    """One registry, fresh: its name in config.toml, how to add it to a home, what it was sent."""

    name: str
    add: Callable[[Path], None]
    sent: Callable[[object], int]  # bytes uploaded so far, given the publishing Client
    separate_home: bool  # install into a new NNPM_HOME (a remote registry) or the publisher's store


@contextlib.contextmanager
def open_round(kind: str, work: Path) -> Iterator[Round]:
    from nnpm.registry.config import Settings, add_registry

    def adder(name: str, url: str, **kw) -> Callable[[Path], None]:
        def add(home: Path) -> None:
            add_registry(name, url, settings=Settings.from_env(home=home), **kw)

        return add

    if kind == "local":
        yield Round("local", lambda home: None, BlobsWritten(), separate_home=False)
    elif kind == "oci":
        with docker_registry(work) as running:
            sent = lambda client: client.registry("team").client.stats.bytes_uploaded  # noqa: E731
            yield Round("team", adder("team", f"oci://{running.host}/ml-team"), sent, separate_home=True)
    elif kind == "hub":
        from nnpm.testing import HubServer

        with HubServer(tokens={TOKEN: "alice"}, orgs={"my-org": {"alice"}}) as hub:
            sent = lambda client: sum(u.size for u in hub.lfs_uploads)  # noqa: E731
            add = adder("hub", "hf://my-org", endpoint=hub.endpoint)
            yield Round("hub", add, sent, separate_home=True)
    else:
        raise SystemExit(f"unknown registry kind {kind!r} (local, oci, hub)")


# --- measuring -----------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def copy_seconds(package: Path, dest: Path, *, sha256sum: bool) -> float:
    shutil.rmtree(dest, ignore_errors=True)

    def run() -> None:
        subprocess.run(["cp", "-r", str(package), str(dest)], check=True)
        if sha256sum:
            files = [str(p) for p in sorted(dest.rglob("*")) if p.is_file()]
            subprocess.run(["sha256sum", *files], check=True, capture_output=True)

    seconds = timed(run)
    shutil.rmtree(dest, ignore_errors=True)
    return seconds


def sha256_pass(folder: Path) -> None:
    """hashlib (OpenSSL) over every file: the least any install that checks each byte can do."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb", buffering=0) as fh:
                hashlib.file_digest(fh, "sha256")


CP, CP_SHA, SHA = "cp -r", "cp -r + sha256sum", "one sha256 pass"
PUBLISH, INSTALL, SECOND = "publish 1.0.0", "fresh install 1.0.0", "publish 1.1.0"


def measure(kind: str, first: Path, second: Path, repeats: int, tmp: Path) -> dict[str, list]:
    """Seconds of each measure in each round (and the bytes 1.1.0 sent), every round from nothing."""
    import nnpm

    got: dict[str, list] = {k: [] for k in (CP_SHA, PUBLISH, CP, SHA, INSTALL, SECOND, "sent")}
    for r in range(repeats):
        work = tmp / f"{kind}-{r}"
        work.mkdir()
        with open_round(kind, work) as reg:
            home = work / "home"
            reg.add(home)
            publisher = nnpm.Client(home=home, project=False)
            got[CP_SHA].append(copy_seconds(first, tmp / "copy", sha256sum=True))
            got[PUBLISH].append(timed(partial(publisher.publish, first, registry=reg.name)))

            target = work / "home-install" if reg.separate_home else home
            reg.add(target)
            shutil.rmtree(target / "store", ignore_errors=True)
            installer = nnpm.Client(home=target, project=False)
            got[CP].append(copy_seconds(first, tmp / "copy", sha256sum=False))
            got[SHA].append(timed(partial(sha256_pass, first)))
            got[INSTALL].append(
                timed(partial(installer.install, [f"{NAME}==1.0.0"], registry=reg.name, project=False))
            )

            before = reg.sent(publisher)
            got[SECOND].append(timed(partial(publisher.publish, second, registry=reg.name)))
            got["sent"].append(reg.sent(publisher) - before)
        shutil.rmtree(work, ignore_errors=True)
    return got


def rows_for(kind: str, got: dict[str, list], nbytes: int, changed: int, others: int) -> list[dict]:
    med = {k: statistics.median(v) for k, v in got.items()}
    base = {"benchmark": "registries", "registry": kind, "size_bytes": nbytes, "repeats": len(got[CP])}
    rows = []
    for name in (CP, CP_SHA, SHA, PUBLISH, INSTALL):
        target = INSTALL_TARGET if name == INSTALL and kind in ("local", "oci") else None
        rows.append({
            **base, "measure": name, "seconds": round(med[name], 3), "mb_s": round(nbytes / med[name] / 1e6, 1),
            "speed_vs_cp": round(med[CP] / med[name], 2), "speed_vs_cp_sha256sum": round(med[CP_SHA] / med[name], 2),
            "target": target, "runs": [round(s, 3) for s in got[name]],
        })  # fmt: skip
    rows.append({
        **base, "measure": SECOND + " (one weights file changed)", "seconds": round(med[SECOND], 3),
        "bytes_sent": int(med["sent"]), "changed_file_bytes": changed, "other_changed_bytes": others,
        "runs": [round(s, 3) for s in got[SECOND]],
    })  # fmt: skip
    return rows


def print_table(rows: list[dict], skipped: list[str]) -> None:
    if rows:
        print(f"\n{rows[0]['size_bytes'] / 1e6:,.1f} MB package, median of {rows[0]['repeats']}")
        print(
            f"  {'registry':9} {'measure':20} {'seconds':>8} {'MB/s':>7} {'x cp -r':>8} {'x cp+sha256sum':>15}  target"
        )
    for r in rows:
        if "mb_s" not in r:
            continue
        target = ""
        if r["target"]:
            target = f">= {r['target']}x " + ("ok" if r["speed_vs_cp"] >= r["target"] else "MISSED")
        print(f"  {r['registry']:9} {r['measure']:20} {r['seconds']:8.3f} {r['mb_s']:7.0f} "
              f"{r['speed_vs_cp']:7.2f}x {r['speed_vs_cp_sha256sum']:14.2f}x  {target}")  # fmt: skip
    if rows:
        print("\n  publish 1.1.0, one weights file changed:")
        print(f"  {'registry':9} {'seconds':>8} {'sent MB':>9} {'changed file MB':>16}  also changed")
    for r in rows:
        if "bytes_sent" in r:
            print(f"  {r['registry']:9} {r['seconds']:8.3f} {r['bytes_sent'] / 1e6:9.3f} "
                  f"{r['changed_file_bytes'] / 1e6:16.3f}  nnpm.toml + README.md, {r['other_changed_bytes']:,} bytes")  # fmt: skip
    for line in skipped:
        print(f"  {line}")


def isolate(tmp: Path) -> None:
    """No saved login, Docker config or nnpm setting of this machine leaks into the measures."""
    for var in ("NNPM_HOME", "NNPM_REGISTRY", "NNPM_OFFLINE", "HF_HUB_OFFLINE", "HF_ENDPOINT",
                "NNPM_OCI_TOKEN", "NNPM_OCI_USERNAME", "NNPM_OCI_PASSWORD", "HUGGING_FACE_HUB_TOKEN"):  # fmt: skip
        os.environ.pop(var, None)
    os.environ.update({
        "HF_HOME": str(tmp / "hf-home"), "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1", "DOCKER_CONFIG": str(tmp / "no-docker-config"),
    })  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=200, help="MB of weights in the package (default 200)")
    ap.add_argument(
        "--files", type=int, default=4, help="weights files the package is split over (default 4)"
    )
    ap.add_argument("--repeats", type=int, default=3, help="rounds of every measure; the median counts")
    ap.add_argument("--registries", default="local,oci,hub", help="which of local, oci, hub (default all)")
    ap.add_argument("--json", type=Path, default=None, help="append one JSON line per measure to this file")
    args = ap.parse_args(argv)
    kinds = [k.strip() for k in args.registries.split(",") if k.strip()]
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, median of {args.repeats}, page cache warm"
    )
    tmp = Path(tempfile.mkdtemp(prefix="nnpm-registries-", dir="/tmp"))
    rows, skipped = [], []
    try:
        isolate(tmp)
        first, second, changed = make_packages(tmp, args.size_mb, args.files)
        nbytes = folder_bytes(first)
        others = sum((second / f).stat().st_size for f in ("nnpm.toml", "README.md"))
        print(f"package: {nbytes / 1e6:.1f} MB in {args.files} weights files; 1.1.0 changes {changed}")
        for kind in kinds:
            if kind == "oci" and not REGISTRY_BIN.exists():
                skipped.append(
                    "oci: skipped, docker-registry is not installed (Debian: apt-get install docker-registry)"
                )
                continue
            measure(
                kind, *make_packages(tmp / f"warm-{kind}", 0.01, args.files)[:2], 1, tmp
            )  # imports, untimed
            got = measure(kind, first, second, args.repeats, tmp)
            rows += rows_for(kind, got, nbytes, (second / changed).stat().st_size, others)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        for row in rows:
            emit(row, args.json)
    print_table(rows, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
