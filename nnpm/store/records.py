"""Install records and what `verify` checks in one installed package's folder.

An install record (.nnpm-install.json) names the package, its version, its manifest's digest
and the registry it came from. One that cannot be read makes the folder a broken package, a
Problem, never a package that silently vanishes from `nnpm list` and `nnpm verify`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from nnpm.errors import IntegrityError, InvalidInputError, ManifestError, NnpmError
from nnpm.fsutil import scan_tree
from nnpm.package.files import read_text_file
from nnpm.package.manifest import MANIFEST_NAME, Manifest, sha256_bytes
from nnpm.package.naming import PackageName
from nnpm.package.pack import verify_files
from nnpm.package.signing import SIGNATURE_NAME

RECORD_NAME = ".nnpm-install.json"


@dataclass(frozen=True)
class InstalledPackage:
    name: PackageName
    version: Version
    sha256: str
    registry: str
    revision: str | None
    path: Path

    @property
    def manifest(self) -> Manifest:
        return Manifest.read(self.path / MANIFEST_NAME)


@dataclass(frozen=True)
class Problem:
    """One thing `verify` found wrong with an installed package (`path`: the file or folder at fault)."""

    package: str
    what: str
    path: Path | None = None
    hint: str | None = None


def read_record(path: Path) -> InstalledPackage | Problem | None:
    """The package installed at `path`, a Problem when its record cannot be read, or None when
    nothing is there (never installed, or moved away by a writer meanwhile)."""
    namespace, name, version = path.parts[-3:]  # packages/<namespace>/<name>/<version>
    label = f"{namespace}/{name}=={version}"
    record_file = path / RECORD_NAME

    def problem(what: str) -> Problem:
        hint = (f"reinstall it with `nnpm install --force '{label}'`, "
                f"or remove it with `nnpm uninstall {namespace}/{name}`")  # fmt: skip
        return Problem(label, what, record_file, hint)

    try:  # a regular file of bounded size: a FIFO planted as a record must not hang `nnpm list`
        text = read_text_file(record_file)
    except FileNotFoundError:
        return problem(f"no install record ({RECORD_NAME})") if path.is_dir() else None
    except ManifestError as exc:
        return problem(f"unreadable install record: {exc.what}")
    except OSError as exc:
        return problem(f"unreadable install record ({exc.__class__.__name__}: {exc.strerror})")
    try:
        record = json.loads(text)
    except ValueError as exc:
        return problem(f"corrupt install record: not JSON ({exc})")
    except RecursionError:  # json's decoder recurses per level: a hostile record must not crash list
        return problem("corrupt install record: JSON nested too deeply")
    if not isinstance(record, dict):
        return problem("corrupt install record: not a JSON object")
    missing = [k for k in ("name", "version", "sha256", "registry") if not isinstance(record.get(k), str)]
    if missing:
        return problem(f"corrupt install record: no {', '.join(missing)}")
    try:
        pkg = InstalledPackage(
            name=PackageName.parse(record["name"]),
            version=Version(record["version"]),
            sha256=record["sha256"],
            registry=record["registry"],
            revision=record.get("revision"),
            path=path,
        )
    except (InvalidInputError, InvalidVersion) as exc:
        return problem(f"corrupt install record: {exc}")
    if path.parts[-3:] != (pkg.name.namespace, pkg.name.name, str(pkg.version)):
        return problem(f"corrupt install record: it names {pkg.name}=={pkg.version}")
    if len(pkg.sha256) != 64 or pkg.sha256.strip("0123456789abcdef"):
        return problem(f"corrupt install record: sha256 {pkg.sha256!r} is not a sha256 digest")
    return pkg


def check_folder(pkg: InstalledPackage) -> list[Problem]:
    """What is wrong with one installed package ([] when nothing): its manifest against its
    record's digest, every listed file re-hashed, and nothing else in its folder (no extra
    file, no link or FIFO in place of a file)."""
    label = f"{pkg.name}=={pkg.version}"
    hint = f"reinstall it with `nnpm install --force '{label}'`"
    try:
        data = read_text_file(pkg.path / MANIFEST_NAME).encode("utf-8")
        if sha256_bytes(data) != pkg.sha256:
            raise IntegrityError(
                f"manifest sha256 mismatch: expected {pkg.sha256}, found {sha256_bytes(data)}",
                where=str(pkg.path / MANIFEST_NAME),
            )
        manifest = Manifest.from_toml(data.decode("utf-8"), where=str(pkg.path))
        verify_files(pkg.path, manifest)
        files, odd = scan_tree(pkg.path, hidden=True)
    except (NnpmError, OSError, UnicodeDecodeError) as exc:
        what = exc.one_line() if isinstance(exc, NnpmError) else f"{type(exc).__name__}: {exc}"
        return [Problem(label, what, pkg.path)]
    expected = {*manifest.files, MANIFEST_NAME, RECORD_NAME, SIGNATURE_NAME}
    problems = [
        Problem(label, f"{rel!r} is {kind}: an installed package holds only regular files",
                pkg.path / rel, hint)
        for rel, kind in odd
    ]  # fmt: skip
    problems += [
        Problem(label, f"extra file {rel!r} is not in the manifest", pkg.path / rel, hint)
        for rel in files
        if rel not in expected
    ]
    return problems
