"""The store: installed packages, content-addressed and hash-checked.

Layout (docs/registry.md):

    blobs/sha256/<aa>/<sha256>                  read-only file contents, stored once
    packages/<namespace>/<name>/<version>/      hard links to the blobs, the manifest,
                                                and .nnpm-install.json (registry, digest)
    tmp/                                        staging; anything here is garbage
    .lock                                       held by the nnpm process that writes

An install stages a complete package under tmp/, checks every byte against the
manifest (and the manifest against the digest the resolver or lock promised), then
renames it into packages/ in one step. A process killed at any point leaves either
the old state or the new one; its leftovers in tmp/ are removed by the next writer.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from packaging.version import Version

from nnpm import config
from nnpm.errors import IntegrityError, LockTimeoutError, ManifestError, NotInstalledError
from nnpm.fsutil import hash_file
from nnpm.package.manifest import MANIFEST_NAME, FileEntry, Manifest, sha256_bytes
from nnpm.package.naming import PackageName, Requirement
from nnpm.package.pack import check_weights, verify_file, verify_files
from nnpm.registry.base import Registry, VersionInfo

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
    """One thing `verify` found wrong with an installed package."""

    package: str
    what: str


class InstallReporter:
    """Hooks the store calls while it works; the CLI draws progress bars, tests pass nothing."""

    def fetching(self, info: VersionInfo, total_bytes: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def installed(self, info: VersionInfo, reused: bool) -> None: ...


class Store:
    def __init__(self, root: Path | None = None, *, lock_timeout: float | None = None) -> None:
        self.root = Path(root) if root else config.store_dir()
        self.lock_timeout = config.lock_timeout() if lock_timeout is None else lock_timeout

    # --- locking -----------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive access for writers; the first writer after a crash sweeps tmp/."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(self.root / ".lock", timeout=self.lock_timeout):
                shutil.rmtree(self.root / "tmp", ignore_errors=True)
                yield
        except Timeout:
            raise LockTimeoutError(
                "the store is locked by another nnpm process", where=str(self.root)
            ) from None

    # --- queries -------------------------------------------------------------------------------

    def package_dir(self, name: PackageName, version: Version | str) -> Path:
        return self.root / "packages" / name.namespace / name.name / str(version)

    def installed(self) -> list[InstalledPackage]:
        found = []
        for record in sorted((self.root / "packages").glob(f"*/*/*/{RECORD_NAME}")):
            pkg = self._read_record(record.parent)
            if pkg is not None:
                found.append(pkg)
        return sorted(found, key=lambda p: (p.name, p.version))

    def get(self, name: PackageName, version: Version | str) -> InstalledPackage | None:
        return self._read_record(self.package_dir(name, version))

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

    def _read_record(self, path: Path) -> InstalledPackage | None:
        try:
            record = json.loads((path / RECORD_NAME).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return InstalledPackage(
            name=PackageName.parse(record["name"]),
            version=Version(record["version"]),
            sha256=record["sha256"],
            registry=record["registry"],
            revision=record.get("revision"),
            path=path,
        )

    # --- install -------------------------------------------------------------------------------

    def install(
        self,
        info: VersionInfo,
        registry: Registry,
        *,
        force: bool = False,
        reporter: InstallReporter | None = None,
    ) -> InstalledPackage:
        """Install one exact package version (caller holds `locked()`). Returns the installed record."""
        reporter = reporter or InstallReporter()
        current = self.get(info.name, info.version)
        if current is not None and current.sha256 == info.sha256 and not force:
            reporter.installed(info, reused=True)
            return current
        staging = self.root / "tmp" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        self._stage(info, registry, staging, reporter)
        target = self.package_dir(info.name, info.version)
        self._swap_in(staging, target)
        reporter.installed(info, reused=False)
        return self._read_record(target)  # type: ignore[return-value]

    def _stage(self, info: VersionInfo, registry: Registry, staging: Path, reporter: InstallReporter) -> None:
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
        reporter.fetching(info, sum(e.size for e in manifest.files.values()))
        for rel, entry in manifest.files.items():
            self._stage_file(info, registry, rel, entry, staging, reporter)
        (staging / MANIFEST_NAME).write_bytes(data)
        check_weights(staging, manifest)
        record = {
            "name": str(info.name),
            "version": str(info.version),
            "sha256": digest,
            "registry": registry.name,
            "revision": info.revision,
        }
        (staging / RECORD_NAME).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")

    def _stage_file(self, info, registry, rel: str, entry: FileEntry, staging: Path, reporter) -> None:
        blob = self._blob(entry.sha256)
        if blob.exists():
            try:
                verify_file(blob, entry)
                reporter.advance(entry.size)
            except IntegrityError:
                blob.unlink()  # a corrupt blob is dropped and fetched again
        if not blob.exists():
            part = staging / f".{uuid.uuid4().hex}.part"
            registry.fetch_file(info, rel, entry, part, progress=reporter.advance)
            digest, size = hash_file(part)
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
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            old = self.root / "tmp" / f"old-{uuid.uuid4().hex}"
            target.rename(old)
        staging.rename(target)

    def _blob(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    # --- removal and checks --------------------------------------------------------------------

    def uninstall(self, name: PackageName, version: Version | None = None) -> list[InstalledPackage]:
        """Remove every installed version of `name` (or one version); caller holds `locked()`."""
        removed = [
            p for p in self.installed() if p.name == name and (version is None or p.version == version)
        ]
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        for pkg in removed:
            pkg.path.rename(self.root / "tmp" / f"rm-{uuid.uuid4().hex}")
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
        """Re-hash every installed file against its manifest, and each manifest against its record."""
        problems = []
        for pkg in self.installed():
            label = f"{pkg.name}=={pkg.version}"
            try:
                data = (pkg.path / MANIFEST_NAME).read_bytes()
                if sha256_bytes(data) != pkg.sha256:
                    raise IntegrityError(
                        f"manifest sha256 mismatch: expected {pkg.sha256}, found {sha256_bytes(data)}",
                        where=str(pkg.path / MANIFEST_NAME),
                    )
                verify_files(pkg.path, Manifest.from_toml(data.decode("utf-8"), where=str(pkg.path)))
            except (IntegrityError, ManifestError, FileNotFoundError, UnicodeDecodeError) as exc:
                problems.append(Problem(label, exc.one_line() if hasattr(exc, "one_line") else str(exc)))
        return problems


def _link_or_copy(blob: Path, dest: Path) -> None:
    try:
        os.link(blob, dest)
    except OSError:
        shutil.copyfile(blob, dest)


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
