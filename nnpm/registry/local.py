"""The local registry: a directory, and nnpm's embedded default.

Layout (docs/registry.md):

    index/<namespace>/<name>.json               one package's versions (the commit point; sparse_index.py)
    index/generation.txt                        bumped by every publish: the search index's staleness check
    search.sqlite3                              the search index, derived from index/ (search_index.py)
    packages/<namespace>/<name>/<version>/nnpm.toml
    blobs/sha256/<first two hex>/<sha256>       file contents, stored once
    .lock                                       held while publishing
    index.json                                  an older registry's single index: read too, split on publish

A publish writes blobs, then the manifest, then its package's index file, each atomically;
readers only see a version once its package file names it, so a publish killed midway
publishes nothing. Published versions are immutable.

Every byte of a published file is hashed once, while it is copied into the blob store: the
bytes hashed are the bytes stored. All files of a package are staged first and only renamed
into blobs/ once every one matched its manifest entry, so a mismatch leaves nothing behind.
A publish also sweeps the *.tmp files a killed one left. Installs read blobs only from
regular files (a FIFO planted there cannot hang them).

One lock, `.lock`, serialises publishes (a team's shared directory: publishers on several
machines wait for each other, up to NNPM_LOCK_TIMEOUT). A lock per package was weighed and
left out: the blob store and its sweep of killed publishes' *.tmp files are shared by every
package (a sweep must know no live publish owns a file), an older nnpm on the same directory
takes this same lock, and what the lock covers is now one package's copy and one small file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import uuid
from pathlib import Path

from nnpm import config, fsutil
from nnpm.errors import ImmutableVersionError, IntegrityError, LockTimeoutError, ManifestError, RegistryError
from nnpm.fsutil import atomic_write_bytes, copy_stream, open_regular, writing
from nnpm.package.files import read_text_file
from nnpm.package.manifest import MANIFEST_NAME, FileEntry, Manifest, sha256_bytes
from nnpm.package.naming import PackageName
from nnpm.package.pack import check_package
from nnpm.package.signing import MAX_SIGNATURE_BYTES, SIGNATURE_NAME
from nnpm.progress import Progress
from nnpm.registry import sparse_index
from nnpm.registry.base import PublishResult, Registry, VersionInfo
from nnpm.registry.sparse_index import INDEX_DIR, LEGACY_NAME

#: kept for callers that name the old single index file
INDEX_NAME = LEGACY_NAME


def blob_path(root: Path, sha256: str) -> Path:
    return root / "blobs" / "sha256" / sha256[:2] / sha256


def stage_blob(root: Path, source: Path, entry: FileEntry, progress: Progress | None = None) -> Path | None:
    """Copy `source` to a temporary file beside its blob, hashing the bytes as they are written: the
    one hash of a publish. A size or sha256 other than the manifest's is the IntegrityError that
    check_package raises, and leaves no temporary file. Returns the staged file (see commit_blob),
    or None when the blob is already there with exactly these bytes (a file an earlier version
    shares: compared byte for byte while the source is hashed, so nothing is written)."""
    target = blob_path(root, entry.sha256)
    if _holds_the_same_bytes(target, source, entry):
        if progress:
            progress.advance(entry.size)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open_regular(source) as src, tmp.open("x+b") as out:
            # the kernel copies (or reflinks) and the copy kept is what is hashed: fsutil.copy_hashing
            digest, size = fsutil.copy_hashing(src, out, limit=entry.size + 1, progress=progress)
        if digest != entry.sha256 or size != entry.size:
            raise IntegrityError(
                f"sha256 mismatch: expected {entry.sha256} ({entry.size} bytes), found {digest} ({size} bytes)",
                where=str(source),
            )
        tmp.chmod(0o444)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _holds_the_same_bytes(target: Path, source: Path, entry: FileEntry) -> bool:
    """Whether the blob `target` is a regular file holding `source`'s bytes, and those bytes have the
    manifest's sha256: one hash of the source, one plain read of the blob, no write. A blob corrupted
    since it was stored differs from the source, and is then replaced (commit_blob)."""
    try:
        if os.lstat(target).st_size != entry.size:
            return False
        blob = open_regular(target)
    except (FileNotFoundError, ManifestError):
        return False
    digest, size, same = hashlib.sha256(), 0, True
    with blob, open_regular(source) as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            same = same and blob.read(len(chunk)) == chunk
        same = same and not blob.read(1)
    if digest.hexdigest() != entry.sha256 or size != entry.size:
        raise IntegrityError(
            f"sha256 mismatch: expected {entry.sha256} ({entry.size} bytes), found {digest.hexdigest()} ({size} bytes)",
            where=str(source),
        )
    return same


def commit_blob(root: Path, staged: Path, entry: FileEntry) -> Path:
    """Rename a verified staged file onto its blob. A blob already there is replaced rather than
    trusted: one corrupted since it was stored must not be what a new version shares."""
    target = blob_path(root, entry.sha256)
    staged.replace(target)
    return target


def store_blob(root: Path, source: Path, entry: FileEntry) -> Path:
    """Stage and commit one file (hashed once, while copied); a blob already holding it is kept."""
    staged = stage_blob(root, source, entry)
    return blob_path(root, entry.sha256) if staged is None else commit_blob(root, staged, entry)


def sweep_temporary_files(root: Path) -> int:
    """Remove the *.tmp files a killed publish left in a registry (caller holds its lock, so no
    live publish owns one); returns how many went."""
    swept = 0
    for folder in (root, root / "blobs", root / "packages", root / INDEX_DIR):
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
        self._legacy_seen: tuple | None = None
        self._legacy_packages: dict[str, dict] = {}

    # --- reading -------------------------------------------------------------------------------

    def _legacy_stat(self) -> tuple | None:
        try:
            st = os.stat(self.root / LEGACY_NAME)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _legacy(self) -> dict[str, dict]:
        """An old index.json's packages (read-both), read once per change of the file; {} without one."""
        seen = self._legacy_stat()
        if seen is None:
            return {}
        if seen != self._legacy_seen:
            self._legacy_packages = sparse_index.read_legacy(self.root) or {}
            self._legacy_seen = seen
        return self._legacy_packages

    def _rows(self, name: str) -> dict[str, dict]:
        ours = sparse_index.read_package(self.root, name)
        legacy = self._legacy().get(name)
        if legacy is None:
            return ours or {}
        return sparse_index.merge(name, ours, legacy, where=str(sparse_index.package_path(self.root, name)))

    def versions(self, name: PackageName) -> list[VersionInfo]:
        """Every version of `name`, reading only its own index file (and an unmigrated index.json)."""
        rows = self._rows(str(name))
        return sorted(
            (sparse_index.info_of(str(name), v, row) for v, row in rows.items()), key=lambda i: i.version
        )

    def package_names(self) -> list[str]:
        """Every package the index names, sorted, from the listing of index/ (no file read): what
        `did you mean` compares a missing name with."""
        return sorted({*sparse_index.package_names(self.root), *self._legacy()})

    def _signature(self) -> str:
        """What the search index must have been built from: the publish counter, the namespace
        folders' mtimes (a package file renamed in by anything but a publish changes its folder's)
        and an unmigrated index.json's size and mtime."""
        legacy = self._legacy_stat()
        tail = f":index.json={legacy[1]}@{legacy[2]}" if legacy else ""
        folders = sparse_index.folder_stamp(self.root)
        return f"generation={sparse_index.read_generation(self.root)}:folders={folders}{tail}"

    def _all_latest(self) -> list[tuple[VersionInfo, dict]]:
        """Each package's newest version and its row: what the search index is (re)built from."""
        found = []
        for name in self.package_names():
            rows = self._rows(name)
            info = sparse_index.latest(name, rows)
            if info is not None:
                found.append((info, rows[str(info.version)]))
        return found

    def search(self, query: str = "") -> list[VersionInfo]:
        """The latest version of each package matching `query` (the word matcher of
        nnpm.registry.search), answered by the search index; rebuilt first when it is stale."""
        from nnpm.registry import search_index  # SQLite: only for search and publish

        if not self.root.is_dir():
            return []
        signature = self._signature()
        path = self.root / search_index.DB_NAME
        db = search_index.open_current(path, signature) or self._rebuild_search(path)
        with contextlib.closing(db):
            return search_index.query(db, query)

    def _rebuild_search(self, path: Path):
        """Rebuild a stale search index on disk when the publish lock is free at once and the registry
        is writable; otherwise in memory, for this search alone (never an answer from a stale one)."""
        from filelock import Timeout

        from nnpm.registry import search_index

        try:
            with self._lock(timeout=0):
                signature = self._signature()  # a publish may have just finished: read it under the lock
                current = search_index.open_current(path, signature)
                return current or search_index.rebuild(path, self._all_latest, signature)
        except (Timeout, OSError, search_index.sqlite3.Error):  # read-only, locked, or no SQLite file here
            return search_index.rebuild(None, self._all_latest, self._signature())

    def _manifest_path(self, name: PackageName, version) -> Path:
        return self.root / "packages" / name.namespace / name.name / str(version) / MANIFEST_NAME

    def fetch_manifest(self, info: VersionInfo) -> bytes:
        path = self._manifest_path(info.name, info.version)
        try:  # a regular file of bounded size: a FIFO planted in the registry must not hang an install
            return read_text_file(path).encode("utf-8")
        except FileNotFoundError:
            raise RegistryError(
                f"{info.name}=={info.version} is indexed but its manifest is missing", where=str(path)
            ) from None

    def local_file(self, info: VersionInfo, path: str, entry: FileEntry) -> Path | None:
        """The blob holding `path`'s bytes, for a store on this machine to link, reflink or copy in one
        hashing pass; None unless it is a regular file (never a link or a FIFO planted in its place).
        The caller still checks its size and sha256."""
        source = blob_path(self.root, entry.sha256)
        try:
            mode = os.lstat(source).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        return source if stat.S_ISREG(mode) else None

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

    def _lock(self, timeout: float | None = None):
        from filelock import FileLock  # only publishers pay for it: reading commands start faster

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(self.root / ".lock", timeout=self.lock_timeout if timeout is None else timeout)

    def publish(
        self, package_dir: Path, manifest: Manifest | None = None, progress: Progress | None = None
    ) -> PublishResult:
        package_dir = Path(package_dir)
        manifest = check_package(package_dir, hashes=False)  # hashed below, once, while copied
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
        sparse_index.migrate(self.root)  # an old index.json becomes per-package files, once
        name, version = str(manifest.name), str(manifest.version)
        rows = self._rows(name)
        existing = rows.get(version)
        if existing is not None and existing["sha256"] != digest:
            raise ImmutableVersionError(
                f"{manifest.id} is already published with different content", where=f"registry {self.name}"
            )
        self._store_blobs(package_dir, manifest, progress)  # the same content again repairs its blobs
        self._store_signature(package_dir, manifest)  # a signature made since publishing joins it
        if existing is not None:
            return PublishResult(manifest, digest, self.name, created=False)
        atomic_write_bytes(self._manifest_path(manifest.name, manifest.version), data)
        before = self._signature()
        rows[version] = sparse_index.row_of(manifest, digest)
        sparse_index.write_package(self.root, name, rows)  # the commit point
        sparse_index.bump_generation(self.root)
        newest = sparse_index.latest(name, rows)
        from nnpm.registry import search_index

        search_index.update(
            self.root / search_index.DB_NAME,
            newest,
            rows[str(newest.version)],
            before=before,
            after=self._signature(),
        )  # when it cannot be updated it is stale, and the next search rebuilds it
        return PublishResult(manifest, digest, self.name, created=True)

    def _store_signature(self, package_dir: Path, manifest: Manifest) -> None:
        source = package_dir / SIGNATURE_NAME
        if source.is_file() and not source.is_symlink():
            signature = read_text_file(source, limit=MAX_SIGNATURE_BYTES).encode("utf-8")
            atomic_write_bytes(
                self._manifest_path(manifest.name, manifest.version).with_name(SIGNATURE_NAME), signature
            )

    def fetch_signature(self, info: VersionInfo) -> bytes | None:
        """nnpm.sig beside the version's manifest, or None when it was published unsigned."""
        path = self._manifest_path(info.name, info.version).with_name(SIGNATURE_NAME)
        try:
            return read_text_file(path, limit=MAX_SIGNATURE_BYTES).encode("utf-8")
        except FileNotFoundError:
            return None

    def _store_blobs(self, package_dir: Path, manifest: Manifest, progress) -> None:
        """Stage every file (each hashed once), then rename them all into blobs/: a file that does not
        match its manifest entry leaves no blob and no temporary file of this publish behind."""
        staged: list[tuple[Path, FileEntry]] = []
        try:
            for rel, entry in manifest.files.items():
                tmp = stage_blob(self.root, package_dir / rel, entry, progress)
                if tmp is not None:  # None: the blob already holds these bytes
                    staged.append((tmp, entry))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, entry in staged:
            commit_blob(self.root, tmp, entry)
