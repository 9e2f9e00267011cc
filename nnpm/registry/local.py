"""The local registry: a directory, and nnpm's embedded default.

Layout (docs/registry.md):

    index.json                                  every package and version (the commit point)
    packages/<namespace>/<name>/<version>/nnpm.toml
    blobs/sha256/<first two hex>/<sha256>       file contents, stored once
    .lock                                       held while publishing

A publish writes blobs, then the manifest, then the index, each atomically; readers
only see a version once the index names it, so a publish killed midway publishes
nothing. Published versions are immutable.

A blob already in the registry is re-hashed before a publish reuses it, and rewritten when
its bytes no longer match its name; a publish first sweeps the *.tmp files a killed one
left. Installs read blobs only from regular files (a FIFO planted there cannot hang them).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from packaging.version import Version

from nnpm import config
from nnpm.errors import ImmutableVersionError, IntegrityError, LockTimeoutError, ManifestError, RegistryError
from nnpm.fsutil import (
    atomic_write_bytes,
    atomic_write_text,
    copy_stream,
    hash_file,
    hash_regular_file,
    open_regular,
    writing,
)
from nnpm.package import schema
from nnpm.package.files import read_text_file
from nnpm.package.manifest import MANIFEST_NAME, FileEntry, Manifest, sha256_bytes
from nnpm.package.naming import PackageName
from nnpm.package.pack import check_package
from nnpm.progress import Progress
from nnpm.registry.base import PublishResult, Registry, VersionInfo
from nnpm.registry.search import select

INDEX_NAME = "index.json"
#: The largest index.json read: thousands of versions with long descriptions, far below harm.
MAX_INDEX_BYTES = 64 * 1024 * 1024


def blob_path(root: Path, sha256: str) -> Path:
    return root / "blobs" / "sha256" / sha256[:2] / sha256


def store_blob(root: Path, source: Path, entry: FileEntry) -> Path:
    """Copy `source` into the blob store under its hash (verified). A blob already there is
    re-hashed first and rewritten when its bytes differ: a new version that shares a file with a
    corrupted older one must not publish bytes nobody can install. Nothing is left half-written:
    the copy goes through a temporary file that is removed on any failure."""
    target = blob_path(root, entry.sha256)
    if target.exists() or target.is_symlink():
        try:
            if hash_regular_file(target) == (entry.sha256, entry.size):
                return target
        except (ManifestError, OSError):
            pass  # a link, a FIFO or an unreadable blob is replaced like a corrupt one
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open_regular(source) as src, tmp.open("xb") as out:
            copy_stream(src, out)
        digest, size = hash_file(tmp)
        if digest != entry.sha256 or size != entry.size:
            raise IntegrityError(
                f"sha256 changed while copying: expected {entry.sha256}, found {digest}", where=str(source)
            )
        tmp.chmod(0o444)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def sweep_temporary_files(root: Path) -> int:
    """Remove the *.tmp files a killed publish left in a registry (caller holds its lock, so no
    live publish owns one); returns how many went."""
    swept = 0
    for folder in (root, root / "blobs", root / "packages"):
        pattern = "*.tmp" if folder == root else "**/*.tmp"
        for path in folder.glob(pattern) if folder.is_dir() else ():
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                swept += 1
    return swept


class LocalRegistry(Registry):
    scheme = "file"

    def __init__(self, name: str, url: str, *, lock_timeout: float | None = None) -> None:
        super().__init__(name, url)
        self.root = Path(url.removeprefix("file://")).expanduser()
        self.lock_timeout = config.lock_timeout() if lock_timeout is None else lock_timeout

    # --- reading -------------------------------------------------------------------------------

    def _index(self) -> dict:
        path = self.root / INDEX_NAME
        if not path.exists():
            return {"index-version": 1, "packages": {}}
        try:
            doc = json.loads(read_text_file(path, limit=MAX_INDEX_BYTES))
        except ValueError as exc:
            raise RegistryError(f"corrupt registry index ({exc})", where=str(path)) from None
        except RecursionError:  # json's decoder recurses per level: 100,000 '[' exhaust the stack
            raise ManifestError(
                f"tables and arrays nested more than {schema.MAX_DEPTH} levels deep",
                where=str(path),
                hint="the registry index is corrupt: restore index.json from a backup",
            ) from None
        schema.validate(doc, "index", where=str(path))
        return doc

    def _info(self, name: str, version: str, row: dict) -> VersionInfo:
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

    def versions(self, name: PackageName) -> list[VersionInfo]:
        rows = self._index()["packages"].get(str(name), {})
        infos = [self._info(str(name), v, row) for v, row in rows.items()]
        return sorted(infos, key=lambda i: i.version)

    def package_names(self) -> list[str]:
        """Every package the index names, sorted: what `did you mean` compares a missing name with."""
        return sorted(self._index()["packages"])

    def search(self, query: str = "") -> list[VersionInfo]:
        """The latest version of each package matching `query` (the word matcher of nnpm.registry.search)."""
        latest = [
            max((self._info(name, v, row) for v, row in rows.items()), key=lambda i: i.version)
            for name, rows in self._index()["packages"].items()
            if rows
        ]
        return select(query, latest)

    def _manifest_path(self, name: PackageName, version: Version) -> Path:
        return self.root / "packages" / name.namespace / name.name / str(version) / MANIFEST_NAME

    def fetch_manifest(self, info: VersionInfo) -> bytes:
        path = self._manifest_path(info.name, info.version)
        try:  # a regular file of bounded size: a FIFO planted in the registry must not hang an install
            return read_text_file(path).encode("utf-8")
        except FileNotFoundError:
            raise RegistryError(
                f"{info.name}=={info.version} is indexed but its manifest is missing", where=str(path)
            ) from None

    def fetch_file(
        self, info: VersionInfo, path: str, entry: FileEntry, dest: Path, progress: Progress | None = None
    ) -> None:
        source = blob_path(self.root, entry.sha256)
        try:  # a regular file only: a FIFO planted as a blob must not hang an install
            src = open_regular(source)
        except FileNotFoundError:
            raise RegistryError(
                f"blob for {path!r} of {info.name}=={info.version} is missing", where=str(source)
            ) from None
        except ManifestError as exc:
            raise RegistryError(
                f"blob for {path!r} of {info.name}=={info.version} is {exc.what}",
                where=str(source),
                hint="the registry is damaged: publish the package again to rewrite the blob",
            ) from None
        with src, dest.open("wb") as out:
            copy_stream(src, out, progress)

    # --- publishing ----------------------------------------------------------------------------

    def _lock(self):
        from filelock import FileLock  # only publishers pay for it: reading commands start faster

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(self.root / ".lock", timeout=self.lock_timeout)

    def publish(
        self, package_dir: Path, manifest: Manifest | None = None, progress: Progress | None = None
    ) -> PublishResult:
        package_dir = Path(package_dir)
        manifest = check_package(package_dir)
        data = read_text_file(package_dir / MANIFEST_NAME).encode("utf-8")  # the bytes check_package read
        digest = sha256_bytes(data)
        from filelock import Timeout

        try:
            with writing(self.root), self._lock():
                sweep_temporary_files(self.root)  # what killed publishes left behind
                return self._publish_locked(package_dir, manifest, data, digest, progress)
        except Timeout:
            raise LockTimeoutError(
                "the registry is locked by another publish", where=str(self.root)
            ) from None

    def _publish_locked(
        self, package_dir: Path, manifest: Manifest, data: bytes, digest: str, progress
    ) -> PublishResult:
        index = self._index()
        rows = index["packages"].setdefault(str(manifest.name), {})
        existing = rows.get(str(manifest.version))
        if existing is not None:
            if existing["sha256"] == digest:
                for rel, entry in manifest.files.items():  # the same content again repairs its blobs
                    store_blob(self.root, package_dir / rel, entry)
                return PublishResult(manifest, digest, self.name, created=False)
            raise ImmutableVersionError(
                f"{manifest.id} is already published with different content", where=f"registry {self.name}"
            )
        for rel, entry in manifest.files.items():
            store_blob(self.root, package_dir / rel, entry)
            if progress:
                progress.advance(entry.size)
        atomic_write_bytes(self._manifest_path(manifest.name, manifest.version), data)
        rows[str(manifest.version)] = _index_row(manifest, digest)
        index["packages"] = dict(sorted(index["packages"].items()))
        schema.validate(index, "index", where=str(self.root / INDEX_NAME))
        atomic_write_text(self.root / INDEX_NAME, json.dumps(index, indent=1, sort_keys=True) + "\n")
        return PublishResult(manifest, digest, self.name, created=True)


def _index_row(manifest: Manifest, digest: str) -> dict:
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
