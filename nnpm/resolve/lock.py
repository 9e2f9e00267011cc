"""nnpm.lock: the exact set a project installs.

    lock-version = 1
    requires = ["digits/mlp>=1"]          # the project's requirements this lock was made for

    [[package]]
    name = "digits/mlp"
    version = "1.0.0"
    registry = "local"
    revision = "..."                      # a Hub commit sha, when the registry has one
    sha256 = "..."                        # digest of the package's nnpm.toml
    dependencies = ["digits/base"]
    files = { "weights.safetensors" = { sha256 = "...", size = 1234 } }

A lock is stale when `requires` differs from the project's requirements; installing
from a fresh lock needs no resolution and, when the store already holds every
digest, no registry at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from nnpm.fsutil import atomic_write_text
from nnpm.package import schema
from nnpm.package.files import read_text_file
from nnpm.package.manifest import FileEntry, parse_toml
from nnpm.package.naming import PackageName, Requirement

LOCK_NAME = "nnpm.lock"


@dataclass(frozen=True)
class LockedPackage:
    name: PackageName
    version: Version
    registry: str
    sha256: str
    files: dict[str, FileEntry]
    dependencies: tuple[PackageName, ...] = ()
    revision: str | None = None


@dataclass(frozen=True)
class Lock:
    requires: tuple[str, ...]
    packages: tuple[LockedPackage, ...] = field(default_factory=tuple)

    def get(self, name: PackageName) -> LockedPackage | None:
        return next((p for p in self.packages if p.name == name), None)

    def is_fresh_for(self, requirements: Iterable[Requirement]) -> bool:
        return self.requires == canonical_requires(requirements)

    def without(self, names: Iterable[PackageName], requirements: Iterable[Requirement]) -> Lock:
        """Drop packages no longer reachable from `requirements` through the locked edges."""
        drop = set(names)
        keep: dict[PackageName, LockedPackage] = {}
        todo = [r.name for r in requirements if r.name not in drop]
        while todo:
            pkg = self.get(todo.pop())
            if pkg is not None and pkg.name not in keep:
                keep[pkg.name] = pkg
                todo.extend(pkg.dependencies)
        return Lock(canonical_requires(requirements), tuple(sorted(keep.values(), key=lambda p: p.name)))


def canonical_requires(requirements: Iterable[Requirement]) -> tuple[str, ...]:
    return tuple(sorted({str(r) for r in requirements}))


def read_lock(path: Path) -> Lock | None:
    """The lock at `path`, or None when there is none; read with `read_text_file`, so a FIFO or a
    huge file in its place is a ManifestError, not a hang."""
    if not path.exists():
        return None
    doc = parse_toml(read_text_file(path), where=str(path))
    schema.validate(doc, "lock", where=str(path))
    packages = tuple(
        LockedPackage(
            name=PackageName.parse(p["name"], where=str(path)),
            version=Version(p["version"]),
            registry=p["registry"],
            sha256=p["sha256"],
            files={k: FileEntry(v["sha256"], int(v["size"])) for k, v in p["files"].items()},
            dependencies=tuple(PackageName.parse(d) for d in p.get("dependencies", ())),
            revision=p.get("revision"),
        )
        for p in doc["package"]
    )
    return Lock(tuple(doc["requires"]), packages)


def write_lock(path: Path, lock: Lock) -> None:
    import tomlkit  # writing only: reading is tomllib's, and tomlkit costs start-up

    doc = tomlkit.document()
    doc.add(tomlkit.comment("Written by nnpm. Do not edit: run `nnpm lock` or `nnpm install` instead."))
    doc["lock-version"] = 1
    doc["requires"] = list(lock.requires)
    packages = tomlkit.aot()
    for p in sorted(lock.packages, key=lambda p: p.name):
        table = tomlkit.table()
        table["name"] = str(p.name)
        table["version"] = str(p.version)
        table["registry"] = p.registry
        if p.revision:
            table["revision"] = p.revision
        table["sha256"] = p.sha256
        table["dependencies"] = [str(d) for d in p.dependencies]
        files = tomlkit.table()
        for rel, entry in sorted(p.files.items()):
            inline = tomlkit.inline_table()
            inline.update({"sha256": entry.sha256, "size": entry.size})
            files[rel] = inline
        table["files"] = files
        packages.append(table)
    doc["package"] = packages
    atomic_write_text(path, tomlkit.dumps(doc))
