"""The local registry's index: one small JSON file per package, as cargo's sparse index.

    index/<namespace>/<name>.json     {"index-version": 1, "name": ..., "versions": {version: row}}
    index/generation.txt              a counter every publish bumps: what the search index compares
    index.json                        a registry written by nnpm before per-package files (read too)

The old single `index.json` was re-read and re-validated on every lookup (the resolver
asks once per candidate name) and rewritten whole on every publish, so lookups and
publishes grew with the registry. Here a lookup reads and validates only the file of the
package it asks for, and a publish rewrites only its own package's file (atomically, under
the registry's publish lock), so both stay flat however many packages the registry holds.

Migration is *read-both, split on the first publish*: a registry that still has an
`index.json` is read through it as well (a version listed in both must have one digest), and
the first publish by this nnpm, holding the lock, splits it into per-package files and renames
it to `index.json.migrated` (kept as a backup; nothing reads it). A publish killed half way
through the split leaves `index.json` in place, and the next one redoes the split (idempotent).

Every file is validated by registry_schema/package-index.v1.schema.json when read and before
it is written; a malformed file is an error naming it, never skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from packaging.version import Version

from nnpm.errors import ImmutableVersionError, ManifestError, RegistryError
from nnpm.fsutil import atomic_write_text
from nnpm.package import schema
from nnpm.package.files import read_text_file
from nnpm.package.manifest import Manifest
from nnpm.package.naming import PackageName
from nnpm.registry.base import VersionInfo

INDEX_DIR = "index"
LEGACY_NAME = "index.json"
MIGRATED_NAME = "index.json.migrated"
GENERATION_NAME = "generation.txt"  # a dot: no namespace can be spelt so
#: The largest legacy index.json read: thousands of versions with long descriptions, far below harm.
MAX_LEGACY_BYTES = 64 * 1024 * 1024
#: The largest per-package file read: thousands of versions of one package.
MAX_PACKAGE_BYTES = 8 * 1024 * 1024
SCHEMA = "package-index"

Rows = dict[str, dict]  # version -> row, as in the file


def package_path(root: Path, name: PackageName | str) -> Path:
    name = PackageName.parse(str(name))
    return root / INDEX_DIR / name.namespace / f"{name.name}.json"


def _load_json(path: Path, limit: int, hint: str) -> tuple[Any, str]:
    """The JSON document in `path` (a regular file of at most `limit` bytes) and its text, or a clear error."""
    try:
        text = read_text_file(path, limit=limit)
        return json.loads(text), text
    except ValueError as exc:
        raise RegistryError(f"corrupt registry index ({exc})", where=str(path), hint=hint) from None
    except RecursionError:  # json's decoder recurses per level: 100,000 '[' exhaust the stack
        raise ManifestError(
            f"tables and arrays nested more than {schema.MAX_DEPTH} levels deep", where=str(path), hint=hint
        ) from None


def read_package(root: Path, name: PackageName | str) -> Rows | None:
    """The rows of `name`'s own index file, validated; None when the registry has no such file."""
    path = package_path(root, name)
    hint = f"the registry index is corrupt: restore {path.name} from a backup, or publish the package again"
    try:
        doc, text = _load_json(path, MAX_PACKAGE_BYTES, hint)
    except FileNotFoundError:
        return None
    schema.validate(doc, SCHEMA, where=str(path), source=text)
    if doc["name"] != str(name):
        raise RegistryError(
            f"the file names package {doc['name']}, but its path is that of {name}",
            where=str(path),
            hint=hint,
        )
    return doc["versions"]


def write_package(root: Path, name: PackageName | str, rows: Rows) -> None:
    """Write `name`'s index file atomically (the caller holds the publish lock); validated first, so
    nnpm never writes a file it would refuse to read."""
    path = package_path(root, name)
    ordered = dict(sorted(rows.items(), key=lambda item: Version(item[0])))
    doc = {"index-version": 1, "name": str(name), "versions": ordered}
    schema.validate(doc, SCHEMA, where=str(path))
    atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=False) + "\n")


def read_legacy(root: Path) -> dict[str, Rows] | None:
    """The packages of an old single `index.json`, validated; None when the registry has none."""
    path = root / LEGACY_NAME
    hint = "the registry index is corrupt: restore index.json from a backup"
    try:
        doc, text = _load_json(path, MAX_LEGACY_BYTES, hint)
    except FileNotFoundError:
        return None
    schema.validate(doc, "index", where=str(path), source=text)
    return doc["packages"]


def merge(name: str, ours: Rows | None, legacy: Rows | None, *, where: str) -> Rows:
    """Both sources of one package's rows; a version they list with two digests is refused, since one
    name and version has one digest."""
    merged = dict(legacy or {})
    for version, row in (ours or {}).items():
        other = merged.get(version)
        if other is not None and other["sha256"] != row["sha256"]:
            raise ImmutableVersionError(
                f"{name}=={version} has sha256 {row['sha256']} in index/ and {other['sha256']} in index.json",
                where=where,
                hint="one name and version has one digest: restore the registry from a backup",
            )
        merged[version] = row
    return merged


def package_names(root: Path) -> Iterator[str]:
    """The package of every file under index/, from the directory listing alone (no file is read).

    Hidden names are the temporary files of a write in progress; anything else that is not
    `<namespace>/<name>.json` with a valid name is an error naming it, not a package skipped."""
    top = root / INDEX_DIR
    if not top.is_dir():
        return
    for folder in sorted(os.scandir(top), key=lambda e: e.name):
        if folder.name.startswith(".") or (folder.name == GENERATION_NAME and folder.is_file()):
            continue
        if not folder.is_dir(follow_symlinks=False):
            raise _stray(folder.path)
        for entry in sorted(os.scandir(folder.path), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            stem, dot, suffix = entry.name.rpartition(".")
            name = f"{folder.name}/{stem}"
            if not (dot and suffix == "json" and entry.is_file(follow_symlinks=False) and _valid(name)):
                raise _stray(entry.path)
            yield name


def _valid(name: str) -> bool:
    try:
        return str(PackageName.parse(name)) == name
    except ManifestError:
        return False


def _stray(path: str) -> RegistryError:
    return RegistryError(
        "not a package index file (index/<namespace>/<name>.json)",
        where=path,
        hint="only nnpm writes under index/: move that entry out of the registry",
    )


def folder_stamp(root: Path) -> str:
    """A digest of the namespace folders under index/ and their mtimes: an atomic write renames a
    file into its folder, which changes the folder's mtime, so a file written by anything but a
    publish (a restore, an rsync) still changes the stamp. Costs one stat per namespace."""
    top = root / INDEX_DIR
    if not top.is_dir():
        return "none"
    stamps = sorted(
        f"{e.name}@{e.stat(follow_symlinks=False).st_mtime_ns}" for e in os.scandir(top) if e.is_dir()
    )
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]


def read_generation(root: Path) -> int:
    """How many publishes this registry's index has seen (0 before the first)."""
    path = root / INDEX_DIR / GENERATION_NAME
    try:
        text = read_text_file(path, limit=64).strip()
    except FileNotFoundError:
        return 0
    if not text.isdigit():
        raise RegistryError(
            f"expected a whole number, found {text[:20]!r}",
            where=str(path),
            hint="delete the file: the next publish writes it again and the search index is rebuilt",
        )
    return int(text)


def bump_generation(root: Path) -> int:
    """Count one more publish (the caller holds the publish lock); returns the new generation."""
    generation = read_generation(root) + 1
    atomic_write_text(root / INDEX_DIR / GENERATION_NAME, f"{generation}\n")
    return generation


def migrate(root: Path) -> bool:
    """Split an old `index.json` into per-package files, then rename it (the caller holds the lock).
    Returns whether there was one. Idempotent: a split killed half way is redone by the next call."""
    legacy = read_legacy(root)
    if legacy is None:
        return False
    for name, rows in legacy.items():
        if rows:
            ours = read_package(root, name)
            write_package(root, name, merge(name, ours, rows, where=str(package_path(root, name))))
    bump_generation(root)
    os.replace(root / LEGACY_NAME, root / MIGRATED_NAME)
    return True


def snapshot(root: Path) -> dict[str, Rows]:
    """Every package's rows, index/ and an unmigrated index.json merged: what the one index.json
    used to hold (`packages`), for tools and checks that want the whole index at once. It reads
    every file, so nnpm itself never calls it on a lookup, a publish or a search."""
    legacy = read_legacy(root) or {}
    return {
        name: merge(name, read_package(root, name), legacy.get(name), where=str(package_path(root, name)))
        for name in sorted({*package_names(root), *legacy})
    }


def row_of(manifest: Manifest, digest: str) -> dict:
    """The row a publish writes for a version: what the resolver and search need, without the files."""
    info = VersionInfo.of(manifest, digest)
    row = {
        "sha256": digest,
        "kind": info.kind,
        "description": info.description,
        "classes": list(info.classes),
        "dependencies": info.dependencies,
        "pins": info.pins,
        "published": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return {k: v for k, v in row.items() if v not in ("", [], {})}


def info_of(name: str, version: str, row: Mapping) -> VersionInfo:
    """A row as the VersionInfo every registry returns."""
    return VersionInfo(
        name=PackageName.parse(name),
        version=Version(version),
        sha256=row["sha256"],
        kind=row["kind"],
        description=row.get("description", ""),
        classes=tuple(row.get("classes", ())),
        dependencies=dict(row.get("dependencies", {})),
        yanked=row.get("yanked", False),
        pins=dict(row.get("pins", {})),
    )


def latest(name: str, rows: Rows) -> VersionInfo | None:
    """The newest version among `rows` (what search shows of a package); None for no rows."""
    if not rows:
        return None
    version = max(rows, key=Version)
    return info_of(name, version, rows[version])
