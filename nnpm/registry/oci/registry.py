"""`OciRegistry`: an OCI registry (Harbor, GitLab, GHCR, ECR, ACR, Artifactory, CNCF distribution).

Mapping (docs/registry.md; names in names.py, the manifest in artifact.py):

- one OCI repository per package (`<path>/<namespace>/<name>`), one tag per version, one
  OCI image manifest per version whose config blob is nnpm.toml and whose layers are the
  package's files;
- `VersionInfo.revision` is the manifest digest (`sha256:...`) the tag pointed at when it
  was read. The lock records it, and everything after resolution fetches by that digest,
  so a tag moved later changes nothing; fetching by tag with a sha256 promised (a lock
  without a revision) notices a moved tag as an IntegrityError.
- a publish uploads each blob unless the repository already has it (HEAD first), then
  pushes the manifest under the version's tag: the tag is the commit point, and blobs
  left by a publish killed midway are garbage the registry collects.

Integrity: every manifest and blob is hashed as it arrives and checked against its
digest (client.py); the layers must be exactly nnpm.toml's files; the store re-hashes
every file against nnpm.toml again. nnpm.toml blobs are cached on disk by digest
(`$NNPM_HOME/cache/oci/`, re-verified when read), so `nnpm search` and resolution read
each one over the network once.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from packaging.version import Version

from nnpm.errors import (
    ImmutableVersionError,
    IntegrityError,
    ManifestError,
    PackageNotFoundError,
    RegistryError,
    VersionNotFoundError,
)
from nnpm.fsutil import atomic_write_bytes
from nnpm.package.files import read_text_file
from nnpm.package.manifest import MANIFEST_NAME, FileEntry, Manifest, sha256_bytes
from nnpm.package.naming import PackageName
from nnpm.package.pack import check_package
from nnpm.package.signing import SIGNATURE_NAME
from nnpm.progress import Progress
from nnpm.registry.base import PublishResult, Registry, VersionInfo
from nnpm.registry.oci.artifact import Artifact, Blob, build_manifest, parse_manifest
from nnpm.registry.oci.auth import Credentials, find_credentials
from nnpm.registry.oci.client import OciClient
from nnpm.registry.oci.names import SCHEME, parse_oci_url, tag_for, version_from_tag
from nnpm.registry.oci.signature import (
    MAX_SIGNATURE_BYTES,
    build_signature_manifest,
    signature_layer,
    signature_tag,
)
from nnpm.registry.search import select
from nnpm.registry.unreadable import UnreadableVersion

_NO_CREDENTIALS = object()


class OciRegistry(Registry):
    """`oci://host[:port]/path`: each package a repository, each version a tag and one manifest."""

    scheme = SCHEME

    def __init__(
        self,
        name: str,
        url: str,
        *,
        insecure: bool = False,
        credentials: Credentials | None | object = _NO_CREDENTIALS,
        offline: bool = False,
        cache_dir: Path | None = None,
    ) -> None:
        """`credentials` default to NNPM_OCI_USERNAME/PASSWORD, else Docker's config.json (auth.py),
        looked up when the registry first asks for them (and again after a refusal), not before."""
        super().__init__(name, url)
        self.location = parse_oci_url(url, insecure=insecure)
        host = self.location.host
        self.client = OciClient(
            self.location,
            registry=name,
            credentials=None if credentials is _NO_CREDENTIALS else credentials,  # type: ignore[arg-type]
            lookup=(lambda: find_credentials(host)) if credentials is _NO_CREDENTIALS else None,
            offline=offline,
        )
        self.cache_dir = cache_dir
        self._configs: dict[str, bytes] = {}
        self._artifacts: dict[tuple[str, str], Artifact] = {}
        #: each broken tag the last search met
        self.broken: list[UnreadableVersion] = []

    def __repr__(self) -> str:  # never shows the credentials
        return f"OciRegistry(name={self.name!r}, url={self.url!r})"

    def repository(self, name: PackageName) -> str:
        return self.location.repository(name)

    def _where(self, name: PackageName, reference: str) -> str:
        return f"{self.location.host}/{self.repository(name)}@{reference}"

    # --- reading -------------------------------------------------------------------------------

    def versions(self, name: PackageName) -> list[VersionInfo]:
        """Every version tag of the package's repository, read through its manifest; [] for no repository."""
        return [self._read(name, version, tag) for version, tag in self._version_tags(name)]

    def _version_tags(self, name: PackageName) -> list[tuple[Version, str]]:
        tags = self.client.tags(self.repository(name)) or []
        return sorted((v, t) for t in tags if (v := version_from_tag(t)) is not None)

    def _read(self, name: PackageName, version: Version, reference: str) -> VersionInfo:
        """The VersionInfo of the manifest `reference` names, checked to be `name`==`version`."""
        artifact, digest, data = self._load(name, reference)
        where = f"{self._where(name, reference)}/{MANIFEST_NAME}"
        try:
            manifest = Manifest.from_toml(data.decode("utf-8"), where=where)
        except UnicodeDecodeError:
            raise ManifestError("nnpm.toml is not UTF-8 text", where=where) from None
        if manifest.name != name or manifest.version != version:
            raise ManifestError(
                f"the tag says {name}=={version} but nnpm.toml says {manifest.id}",
                where=where,
                hint="the repository's tags were edited by hand; ask its owner to fix them",
            )
        artifact.check_files(manifest, where)
        self._artifacts[(self.repository(name), digest)] = artifact
        return VersionInfo.of(manifest, artifact.config.sha256, revision=digest)

    def _load(self, name: PackageName, reference: str) -> tuple[Artifact, str, bytes]:
        """(artifact, manifest digest, nnpm.toml bytes) of a tag or digest; not-found errors when absent."""
        repo = self.repository(name)
        got = self.client.get_manifest(repo, reference)
        if got is None:
            cls = VersionNotFoundError if self.client.tags(repo) is not None else PackageNotFoundError
            raise cls(f"{name}: no manifest {reference} in {repo}", where=f"registry {self.name}")
        data, digest = got
        artifact = parse_manifest(data, where=self._where(name, reference))
        return artifact, digest, self._config(repo, artifact.config)

    def _config(self, repo: str, blob: Blob) -> bytes:
        """nnpm.toml by digest: from memory, the disk cache (re-verified) or the registry."""
        if blob.digest in self._configs:
            return self._configs[blob.digest]
        cached = self.cache_dir / "sha256" / blob.sha256 if self.cache_dir else None
        data = None
        if cached is not None and cached.is_file():
            with contextlib.suppress(OSError, ManifestError, UnicodeDecodeError):
                data = read_text_file(cached).encode("utf-8")
            if data is not None and sha256_bytes(data) != blob.sha256:
                data = None  # a corrupt cache entry is fetched again
        if data is None:
            data = self.client.read_blob(repo, blob.digest, blob.size)
            if cached is not None:
                with contextlib.suppress(OSError):
                    atomic_write_bytes(cached, data)
        self._configs[blob.digest] = data
        return data

    def package_names(self) -> list[str]:
        """Every package under this registry's path, from the registry's catalog."""
        repos = self.client.catalog()
        if repos is None:
            raise RegistryError(
                f"{self.location.host} offers no catalog, so its packages cannot be listed",
                where=f"registry {self.name}",
                hint="install packages by name (nnpm install NS/NAME --registry NAME); search needs a catalog",
            )
        return sorted({str(n) for r in repos if (n := self.location.package_name(r)) is not None})

    def search(self, query: str = "") -> list[VersionInfo]:
        """The latest readable version of each package matching `query`; reads the newest manifest
        and, where its tag is broken, the next older one. Each broken tag met is kept in
        `self.broken` (nnpm.registry.unreadable), so that a listing says what it left out."""
        latest = []
        self.broken = []
        for text in self.package_names():
            name = PackageName.parse(text)
            broken: list[tuple[str, ManifestError | IntegrityError | VersionNotFoundError]] = []
            tags = self._version_tags(name)
            for version, tag in reversed(tags):
                try:
                    latest.append(self._read(name, version, tag))
                    break
                except (ManifestError, IntegrityError, VersionNotFoundError) as exc:
                    broken.append((tag, exc))  # a broken tag must not hide the older versions
            listed = len(broken) < len(tags)
            where = f"{SCHEME}://{self.location.host}/{self.repository(name)}"
            self.broken += [UnreadableVersion(str(name), f"{where}:{tag}", e, listed) for tag, e in broken]
        return select(query, latest)

    def _reference(self, info: VersionInfo) -> str:
        return info.revision or tag_for(info.version)

    def fetch_manifest(self, info: VersionInfo) -> bytes:
        """nnpm.toml of the pinned manifest digest (info.revision), else of the version's tag."""
        reference = self._reference(info)
        artifact, digest, data = self._load(info.name, reference)
        if info.sha256 and artifact.config.sha256 != info.sha256:
            raise IntegrityError(
                f"{info.name}=={info.version} now holds nnpm.toml sha256 {artifact.config.sha256}, "
                f"expected {info.sha256}",
                where=self._where(info.name, reference),
                hint="the tag was moved to other content; install from a lock that pins the manifest digest, "
                "or ask the registry's owner why the version changed",
            )
        self._artifacts[(self.repository(info.name), digest)] = artifact
        if not info.revision:
            self._artifacts[(self.repository(info.name), reference)] = artifact
        return data

    def fetch_file(
        self, info: VersionInfo, path: str, entry: FileEntry, dest: Path, progress: Progress | None = None
    ) -> None:
        """Download the layer titled `path` to `dest`, checked against its digest and `entry`."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as out:
            self.fetch_into(info, path, entry, out, progress)

    def fetch_into(
        self, info: VersionInfo, path: str, entry: FileEntry, out: BinaryIO, progress: Progress | None = None
    ) -> None:
        """Stream the layer titled `path` into the open file `out` (the store's hashing writer: the
        blob is hashed once, as it arrives), checked against its digest and `entry`."""
        reference = self._reference(info)
        repo = self.repository(info.name)
        artifact = self._artifacts.get((repo, reference)) or self._load(info.name, reference)[0]
        blob = artifact.files.get(path)
        if blob is None or blob.sha256 != entry.sha256 or blob.size != entry.size:
            raise IntegrityError(
                f"the OCI manifest's layer for {path!r} differs from nnpm.toml",
                where=self._where(info.name, reference),
                hint="the artifact was edited; do not use it",
            )
        self.client.stream_blob(repo, blob.digest, blob.size, out, progress)

    # --- publishing ----------------------------------------------------------------------------

    def publish(
        self, package_dir: Path, manifest: Manifest | None = None, progress: Progress | None = None
    ) -> PublishResult:
        """Blobs not yet in the repository, then the manifest under the version's tag.

        One name and version has one digest: the same nnpm.toml again is a no-op, another
        one under an existing tag is refused (ImmutableVersionError).
        """
        package_dir = Path(package_dir)
        manifest = check_package(package_dir)
        data = read_text_file(package_dir / MANIFEST_NAME).encode("utf-8")
        digest = sha256_bytes(data)
        repo, tag = self.repository(manifest.name), tag_for(manifest.version)
        existing = self._existing(manifest, repo, tag)
        if existing is not None:
            return self._republish(package_dir, manifest, digest, *existing)
        for rel, entry in sorted(manifest.files.items()):
            source = _regular_file(package_dir, rel)
            self.client.upload_blob(repo, f"sha256:{entry.sha256}", entry.size, source)
            if progress:
                progress.advance(entry.size)
        self.client.upload_blob(repo, f"sha256:{digest}", len(data), data)
        body = build_manifest(manifest, digest, len(data))
        revision = self.client.put_manifest(repo, tag, body)
        self._push_signature(package_dir, repo, revision, len(body))
        return PublishResult(manifest, digest, self.name, created=True, revision=revision)

    def _push_signature(self, package_dir: Path, repo: str, revision: str, size: int) -> None:
        """nnpm.sig, when the package has one, as the artifact whose subject is the version's manifest."""
        path = package_dir / SIGNATURE_NAME
        if not path.is_file():
            return
        signature = read_text_file(path, limit=MAX_SIGNATURE_BYTES).encode("utf-8")
        self.client.upload_blob(repo, f"sha256:{sha256_bytes(signature)}", len(signature), signature)
        empty = b"{}"
        self.client.upload_blob(repo, f"sha256:{sha256_bytes(empty)}", len(empty), empty)
        self.client.put_manifest(
            repo, signature_tag(revision), build_signature_manifest(signature, revision, size)
        )

    def fetch_signature(self, info: VersionInfo) -> bytes | None:
        """The version's nnpm.sig, or None when it was published unsigned."""
        repo, reference = self.repository(info.name), self._reference(info)
        got = self.client.get_manifest(repo, reference)
        if got is None:
            return None
        signed = self.client.get_manifest(repo, signature_tag(got[1]))
        if signed is None:
            return None
        where = self._where(info.name, signature_tag(got[1]))
        digest, size = signature_layer(signed[0], got[1], where=where)
        return self.client.read_blob(repo, digest, size, limit=MAX_SIGNATURE_BYTES)

    def _existing(self, manifest: Manifest, repo: str, tag: str) -> tuple[Artifact, str, int] | None:
        """(artifact, manifest digest, manifest size) the version's tag holds now; None when there is no such tag."""
        got = self.client.get_manifest(repo, tag)
        if got is None:
            return None
        try:
            return parse_manifest(got[0], where=self._where(manifest.name, tag)), got[1], len(got[0])
        except ManifestError:
            raise ImmutableVersionError(
                f"tag {tag} already exists but does not hold an nnpm package",
                where=self._where(manifest.name, tag),
                hint="delete the tag in the registry, or publish a new version",
            ) from None

    def _republish(
        self, package_dir: Path, manifest: Manifest, digest: str, artifact: Artifact, revision: str, size: int
    ) -> PublishResult:
        if artifact.config.sha256 == digest:  # the same package again; a signature made since is added
            self._push_signature(package_dir, self.repository(manifest.name), revision, size)
            return PublishResult(manifest, digest, self.name, created=False, revision=revision)
        raise ImmutableVersionError(
            f"{manifest.id} is already published with different content "
            f"(nnpm.toml sha256 {artifact.config.sha256})",
            where=self._where(manifest.name, tag_for(manifest.version)),
        )


def _regular_file(package_dir: Path, rel: str) -> Path:
    """The package file `rel`, refused unless it is a regular file (no symlink, FIFO or device)."""
    path = package_dir / rel
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise ManifestError(f"{rel!r} is listed but missing", where=str(package_dir)) from None
    if not stat.S_ISREG(mode):
        raise ManifestError(
            f"{rel!r} is not a regular file", where=str(package_dir), hint="packages hold only regular files"
        )
    return path
