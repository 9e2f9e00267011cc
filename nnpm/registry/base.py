"""The one small interface every registry implements.

A registry answers: which versions of a package exist (with enough metadata for the
resolver), what a version's manifest says, and the bytes of its files; and it
accepts a publish. It never decides what is trustworthy: the store re-hashes every
byte it receives against the manifest, and the manifest against the lock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from nnpm.package.manifest import FileEntry, Manifest
from nnpm.package.naming import PackageName
from nnpm.progress import Progress  # registries call progress.advance(nbytes) as bytes move


@dataclass(frozen=True)
class VersionInfo:
    """One published version, as an index lists it: enough to resolve without fetching files."""

    name: PackageName
    version: Version
    sha256: str
    kind: str
    description: str = ""
    classes: tuple[str, ...] = ()
    dependencies: dict[str, str] = field(default_factory=dict)
    revision: str | None = None
    yanked: bool = False
    #: dependency name -> the manifest sha256 it must have (a [dependencies] entry's `sha256`), so
    #: the resolver refuses another build of that dependency before anything is downloaded
    pins: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, manifest: Manifest, sha256: str, *, revision: str | None = None) -> VersionInfo:
        """The index entry every registry derives from a manifest, the same way."""
        return cls(
            name=manifest.name,
            version=manifest.version,
            sha256=sha256,
            kind=manifest.kind,
            description=manifest.description,
            classes=tuple(manifest.source.classes),
            dependencies={str(d.name): str(d.specifier) for d in manifest.dependencies},
            revision=revision,
            pins={str(d.name): d.sha256 for d in manifest.dependencies if d.sha256},
        )


@dataclass(frozen=True)
class PublishResult:
    manifest: Manifest
    sha256: str
    registry: str
    created: bool
    revision: str | None = None


class Registry(ABC):
    """A place packages are published to and installed from."""

    #: scheme of the URLs this backend handles, e.g. "file" or "hf"
    scheme: str = ""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    @abstractmethod
    def versions(self, name: PackageName) -> list[VersionInfo]:
        """Every published version of `name`, oldest first; [] when the package is unknown."""

    @abstractmethod
    def search(self, query: str = "") -> list[VersionInfo]:
        """The latest version of each package whose name, description or classes match `query`."""

    @abstractmethod
    def fetch_manifest(self, info: VersionInfo) -> bytes:
        """The exact bytes of the version's nnpm.toml (the caller checks them against info.sha256)."""

    @abstractmethod
    def fetch_file(
        self, info: VersionInfo, path: str, entry: FileEntry, dest: Path, progress: Progress | None = None
    ) -> None:
        """Write the file's bytes to `dest` (the caller checks size and sha256)."""

    def local_file(self, info: VersionInfo, path: str, entry: FileEntry) -> Path | None:
        """A regular file on this machine that holds exactly `path`'s bytes, or None.

        A registry on the store's own file system (a directory) answers with its blob, so the
        store can link, reflink or copy it in one hashing pass instead of streaming it through
        fetch_file; remote registries have none. The caller still checks size and sha256."""
        return None

    def fetch_signature(self, info: VersionInfo) -> bytes | None:
        """The version's nnpm.sig (docs/signing.md), or None when it was published unsigned; the
        store keeps it beside the installed files and the trust policy decides what it must be."""
        return None

    @abstractmethod
    def publish(
        self, package_dir: Path, manifest: Manifest, progress: Progress | None = None
    ) -> PublishResult:
        """Publish a packed, validated package directory. Identical content again is a no-op."""

    def describe(self) -> str:
        return f"{self.name} ({self.url})"
