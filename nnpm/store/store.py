"""The store: installed packages, content-addressed and hash-checked.

Layout (docs/registry.md):

    blobs/sha256/<aa>/<sha256>                  read-only file contents, stored once
    packages/<namespace>/<name>/<version>/      hard links to the blobs, the manifest,
                                                and .nnpm-install.json (registry, digest)
    tmp/                                        staging; anything here is garbage
    .lock                                       held by the nnpm process that writes

An install stages a complete package under tmp/, checks every byte against the
manifest (and the manifest against the digest the resolver or lock promised), then
renames it into packages/ in one step. Each byte is read once: hashed as it arrives
(nnpm.store.fetch), from a local registry by a kernel copy or a reflink. Blobs are read-only
(0o444) and hard-linked into package folders, so an installed file cannot be edited by an
ordinary write; one edited anyway (chmod first) is what `verify()` re-hashes to find. Replacing an install (`--force`, or one whose
record is corrupt) exchanges the two directories in one step where the system can
(renameat2 on Linux), so the package is never missing; elsewhere the old one is moved
aside under a journal that the next writer uses to put it back if the process died
in between. A process killed at any point leaves either the old state or the new one;
its leftovers in tmp/ are removed by the next writer.

An install record that cannot be read is not an installed package (`installed()`
skips it, and installing that version again replaces it), but it is reported:
`corrupt_records()` lists it and `verify()` counts it as a problem.

An installed copy is re-hashed before an install reuses it, and replaced when it differs
(pip's hash-checking mode). A failed install removes its staged copy and the blobs only that
copy linked; the first writer after a killed one does the same for what it left in tmp/.
`verify()` holds the lock shared (`reading()`), so it never sees a writer's change half done.
A store that cannot be written (disk full, read-only, not the owner) is one WriteError.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from packaging.version import Version

from nnpm import config, fsutil
from nnpm.errors import IntegrityError, LockTimeoutError, ManifestError, NnpmError, NotInstalledError
from nnpm.fsutil import atomic_write_text, exchange_paths, writing
from nnpm.package.manifest import MANIFEST_NAME, FileEntry, Manifest, sha256_bytes
from nnpm.package.naming import PackageName, Requirement
from nnpm.package.pack import check_weights, verify_file
from nnpm.package.signing import SIGNATURE_NAME
from nnpm.progress import NULL, Progress
from nnpm.registry.base import Registry, VersionInfo
from nnpm.store.fetch import fetch_blob
from nnpm.store.locking import shared_lock
from nnpm.store.records import RECORD_NAME, InstalledPackage, Problem, check_folder, read_record

__all__ = ["RECORD_NAME", "InstalledPackage", "Problem", "Store"]


class Store:
    def __init__(self, root: Path | None = None, *, lock_timeout: float | None = None) -> None:
        self.root = Path(root) if root else config.store_dir()
        self.lock_timeout = config.lock_timeout() if lock_timeout is None else lock_timeout

    # --- locking -----------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive access for writers; the first writer after a crash sweeps tmp/ (and the blobs
        only the swept installs linked). A store that cannot be written (disk full, read-only, not
        the owner) is one WriteError naming the store."""
        from filelock import FileLock, Timeout  # only writers pay for it: `nnpm list` starts faster

        try:
            with writing(self.root):
                self.root.mkdir(parents=True, exist_ok=True)
                lock = FileLock(self.root / ".lock", timeout=self.lock_timeout)
                lock.acquire()
        except Timeout:
            raise LockTimeoutError(
                "the store is locked by another nnpm process", where=str(self.root)
            ) from None
        try:
            with writing(self.root):
                self._recover_swaps()
                tmp = self.root / "tmp"
                leftovers = tmp.is_dir() and any(tmp.iterdir())
                shutil.rmtree(tmp, ignore_errors=True)
                if leftovers:  # a writer died (or failed) mid-install: its blobs may be linked by nothing
                    self.collect_garbage()
            yield
        finally:
            lock.release()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Shared access for readers that must not see a writer's change half done (`verify`)."""
        with shared_lock(self.root / ".lock", self.lock_timeout, fallback=self.locked):
            yield

    # --- queries -------------------------------------------------------------------------------

    def package_dir(self, name: PackageName, version: Version | str) -> Path:
        return self.root / "packages" / name.namespace / name.name / str(version)

    def installed(self) -> list[InstalledPackage]:
        """Every installed package, by name and version (records that cannot be read are skipped)."""
        found = [r for r in map(self._record_at, self._package_dirs()) if isinstance(r, InstalledPackage)]
        return sorted(found, key=lambda p: (p.name, p.version))

    def corrupt_records(self) -> list[Problem]:
        """Install records that cannot be read: unreadable, not JSON, incomplete, or naming another
        package than their folder (a folder in packages/ without one counts too). Cheap: no hashing."""
        return [r for r in map(self._record_at, self._package_dirs()) if isinstance(r, Problem)]

    def get(self, name: PackageName, version: Version | str) -> InstalledPackage | None:
        found = self._record_at(self.package_dir(name, version))
        return found if isinstance(found, InstalledPackage) else None

    def find(self, requirement: Requirement) -> InstalledPackage:
        """The newest installed version that satisfies the requirement."""
        matches = [
            p
            for p in self.installed()
            if p.name == requirement.name and requirement.allows(p.version, prereleases=True)
        ]
        if not matches:
            raise NotInstalledError(
                f"{requirement} is not installed", hint=f"run `nnpm install '{requirement}'`"
            )
        return max(matches, key=lambda p: p.version)

    def _package_dirs(self) -> list[Path]:
        return sorted(p for p in (self.root / "packages").glob("*/*/*") if p.is_dir())

    def _record_at(self, path: Path) -> InstalledPackage | Problem | None:
        """The package installed at `path`, a Problem when its record cannot be read, or None when
        nothing is there (never installed, or moved away by a writer meanwhile)."""
        return read_record(path)

    # --- install -------------------------------------------------------------------------------

    def install(
        self,
        info: VersionInfo,
        registry: Registry,
        *,
        force: bool = False,
        reporter: Progress | None = None,
        check: Callable[[Path], None] | None = None,
    ) -> InstalledPackage:
        """Install one exact package version (caller holds `locked()`). Returns the installed record.
        `check` (the trust policy's) runs on the staged copy before it replaces anything, and on an
        installed copy before it is reused; what it raises leaves the store as it was."""
        reporter = reporter or NULL
        current = self.get(info.name, info.version)
        if current is not None and current.sha256 != info.sha256 and not force:
            raise digest_conflict(info, registry.name, current)
        same = current is not None and current.sha256 == info.sha256 and not force
        # re-hashed, as pip's hash-checking mode, else repaired; refetched when its signature fails
        if same and not self.check(current) and _passes(check, current.path):
            reporter.note("installed", package=f"{info.name}=={info.version}", reused=True)
            return current
        staging = self.root / "tmp" / uuid.uuid4().hex
        try:
            with writing(self.root):
                staging.mkdir(parents=True)
                self._stage(info, registry, staging, reporter)
                if check is not None:
                    check(staging)
                _crash_point("staged", info.name)
                target = self.package_dir(info.name, info.version)
                self._swap_in(staging, target)
        except BaseException:
            # nothing half-installed stays: the staged copy, and the blobs only it linked
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                self.collect_garbage()
            raise
        reporter.note("installed", package=f"{info.name}=={info.version}", reused=False, repaired=same)
        return self.get(info.name, info.version)  # type: ignore[return-value]

    def _stage(self, info: VersionInfo, registry: Registry, staging: Path, reporter: Progress) -> None:
        data = registry.fetch_manifest(info)
        digest = sha256_bytes(data)
        where = f"{info.name}=={info.version} from registry {registry.name}"
        if digest != info.sha256:
            raise IntegrityError(
                f"manifest sha256 mismatch: expected {info.sha256}, found {digest}", where=where
            )
        manifest = Manifest.from_toml(data.decode("utf-8"), where=f"{where}: {MANIFEST_NAME}")
        if manifest.name != info.name or manifest.version != info.version:
            raise ManifestError(f"the registry served {manifest.id} instead", where=where)
        reporter.start(sum(e.size for e in manifest.files.values()), f"{info.name}=={info.version}", unit="B")
        for rel, entry in manifest.files.items():
            self._stage_file(info, registry, rel, entry, staging, reporter)
        reporter.done()
        _write_new(staging / MANIFEST_NAME, data)
        (staging / MANIFEST_NAME).chmod(0o444)  # read-only, as every installed file of the package
        signature = registry.fetch_signature(info)
        if signature is not None:  # kept beside the files it signs, for `nnpm verify --signatures`
            _write_new(staging / SIGNATURE_NAME, signature)
            (staging / SIGNATURE_NAME).chmod(0o444)
        check_weights(staging, manifest)
        record = {
            "name": str(info.name),
            "version": str(info.version),
            "sha256": digest,
            "registry": registry.name,
            "revision": info.revision,
        }
        _write_new(staging / RECORD_NAME, (json.dumps(record, indent=1) + "\n").encode("utf-8"))

    def _stage_file(self, info, registry, rel: str, entry: FileEntry, staging: Path, reporter) -> None:
        blob = self._blob(entry.sha256)
        if blob.exists() or blob.is_symlink():
            try:
                verify_file(blob, entry)
                reporter.advance(entry.size)
            except (IntegrityError, ManifestError):
                blob.unlink()  # a corrupt blob (or a link, a FIFO) is dropped and fetched again
        if not blob.exists():
            part = staging / f".{uuid.uuid4().hex}.part"
            digest, size = fetch_blob(registry, info, rel, entry, part, reporter)  # hashed as it arrives
            _crash_point("fetched", info.name)
            if digest != entry.sha256 or size != entry.size:
                raise IntegrityError(
                    f"sha256 mismatch for {rel!r}: expected {entry.sha256} ({entry.size} bytes), "
                    f"got {digest} ({size} bytes)",
                    where=f"{info.name}=={info.version} from registry {registry.name}",
                )
            blob.parent.mkdir(parents=True, exist_ok=True)
            part.chmod(0o444)
            part.replace(blob)
        dest = staging / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(blob, dest)

    def _swap_in(self, staging: Path, target: Path) -> None:
        """Put the staged package at `target`: one rename for a new install. Replacing an install
        exchanges the two folders atomically where the system can, so `target` is never missing;
        elsewhere the old folder is moved aside, then the new one in, under a journal that lets the
        next writer put the old one back if this process dies between the two (`_recover_swaps`)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            _move(staging, target)
            return
        if exchange_paths(staging, target):
            _crash_point("exchanged", "/".join(target.parts[-3:-1]))
            shutil.rmtree(staging, ignore_errors=True)  # the old install, now under tmp/
            return
        token = uuid.uuid4().hex
        old = self.root / "tmp" / f"old-{token}"
        journal = self.root / "tmp" / f"swap-{token}.json"
        atomic_write_text(
            journal, json.dumps({"target": target.relative_to(self.root).as_posix(), "old": old.name})
        )
        _move(target, old)
        _move(staging, target)
        journal.unlink()
        shutil.rmtree(old, ignore_errors=True)

    def _recover_swaps(self) -> None:
        """Undo replacements a killed writer left half done: its old install goes back in place."""
        for journal in sorted((self.root / "tmp").glob("swap-*.json")):
            try:
                entry = json.loads(journal.read_text(encoding="utf-8"))
                target, old = self.root / entry["target"], self.root / "tmp" / entry["old"]
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
                continue  # written atomically, so unreadable means not ours: the sweep removes it
            if old.is_dir() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _move(old, target)

    def _blob(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    # --- removal and checks --------------------------------------------------------------------

    def uninstall(self, name: PackageName, version: Version | None = None) -> list[InstalledPackage]:
        """Remove every installed version of `name` (or one version); caller holds `locked()`."""
        removed = [
            p for p in self.installed() if p.name == name and (version is None or p.version == version)
        ]
        # folders whose record is corrupt go too: they are not installed packages, but they are in the way
        folder = self.root / "packages" / name.namespace / name.name
        broken = [
            p.path.parent
            for p in self.corrupt_records()
            if p.path is not None
            and p.path.parent.parent == folder
            and (version is None or p.path.parent == self.package_dir(name, version))
        ]
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        for path in [p.path for p in removed] + broken:
            path.rename(self.root / "tmp" / f"rm-{uuid.uuid4().hex}")
        _crash_point("removed", name)
        self.collect_garbage()
        return removed

    def collect_garbage(self) -> int:
        """Delete blobs no installed package links to (a blob's only link is its own)."""
        shutil.rmtree(self.root / "tmp", ignore_errors=True)  # removed packages still link their blobs
        freed = 0
        if not _uses_hard_links(self.root):
            return freed
        for blob in (self.root / "blobs").glob("sha256/*/*"):
            if blob.is_file() and blob.stat().st_nlink == 1:
                blob.unlink()
                freed += 1
        return freed

    def verify(self) -> list[Problem]:
        """Re-hash every installed file against its manifest, and each manifest against its record;
        every install record that cannot be read is a problem too. Holds the store's lock shared,
        so a concurrent uninstall or reinstall is never seen half done."""
        with self.reading():
            problems = self.corrupt_records()
            for pkg in self.installed():
                problems.extend(self.check(pkg))
        return problems

    def check(self, pkg: InstalledPackage) -> list[Problem]:
        """What is wrong with one installed package ([] when nothing): its manifest against its
        record's digest, every listed file re-hashed, and nothing else in its folder."""
        return check_folder(pkg)


def digest_conflict(info: VersionInfo, registry: str, current: InstalledPackage) -> IntegrityError:
    """One name and version, one digest: `info` (from `registry`) would silently replace an installed
    copy with another digest, which breaks what was built on it (a pinned composite, a lock)."""
    spec = f"{info.name}=={info.version}"
    return IntegrityError(
        f"{spec} from registry {registry} has sha256 {info.sha256}, but the installed copy "
        f"(from registry {current.registry}) has sha256 {current.sha256}",
        where=spec,
        hint=f"a name and version has one digest: install it from registry {current.registry} "
        f"(--registry {current.registry}), or replace the installed copy with "
        f"`nnpm install --force '{spec}' --registry {registry}`",
    )


def _passes(check: Callable[[Path], None] | None, directory: Path) -> bool:
    """Whether an installed copy passes `check` (no check: it does)."""
    if check is None:
        return True
    try:
        check(directory)
    except NnpmError:
        return False
    return True


def _crash_point(point: str, package: object) -> None:
    """Tests only: SIGKILL this process when NNPM_TEST_CRASH_AT is `point` or `point:namespace/name`.
    Points: fetched (a file in tmp/, hashed, not checked), staged (a checked copy in tmp/), exchanged (a
    replacement swapped in, the old copy in tmp/), removed (uninstalled folders in tmp/, blobs kept)."""
    if config.crash_point() in (point, f"{point}:{package}"):
        os.kill(os.getpid(), signal.SIGKILL)


def _move(source: Path, dest: Path) -> None:
    """One rename within the store (one step on the same filesystem)."""
    os.rename(source, dest)


def _write_new(path: Path, data: bytes) -> None:
    """Write a file in a staging folder (through fsutil's write, where tests inject a full disk)."""
    with path.open("xb") as fh:
        fsutil.write_chunk(fh, data)


def _link_or_copy(blob: Path, dest: Path) -> None:
    """The blob's own inode where the store can hard-link; else a copy, read-only like the blob."""
    try:
        os.link(blob, dest)
    except OSError:
        shutil.copyfile(blob, dest)
        dest.chmod(0o444)


def _uses_hard_links(root: Path) -> bool:
    """Garbage collection by link count only makes sense where installs hard-link blobs."""
    probe_dir = root / "blobs"
    probe_dir.mkdir(parents=True, exist_ok=True)
    a, b = probe_dir / ".probe-a", probe_dir / ".probe-b"
    try:
        a.write_bytes(b"")
        os.link(a, b)
        return True
    except OSError:
        return False
    finally:
        for p in (a, b):
            p.unlink(missing_ok=True)
