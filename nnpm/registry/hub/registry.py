"""`HubRegistry`: reading packages from, and publishing them to, a Hub namespace.

Mapping (docs/hub.md; the names are in `names.py`):

- one Hub *model* repo per package, one `v<version>` tag per version.
  `VersionInfo.revision` is the commit sha the tag pointed at when it was read;
  fetching by that sha gives the same bytes even if the tag is moved later, which is
  what the lock records.
- a publish is `create_repo(exist_ok=True)`, then ONE `create_commit` holding every
  file of the package (nnpm.toml, weights, README.md card; files of an older version
  that the new one lacks are deleted in the same commit), then `create_tag`.

Integrity: the client only checks sizes; this backend re-hashes every file it
downloads against the manifest's sha256 (and the manifest against
`VersionInfo.sha256`) and raises IntegrityError on any difference.

Credentials come from the `token` argument, else HF_TOKEN, else the Hub client's own
login (`hf auth login`); they never appear in messages. Every request goes through
`HubCaller` (http.py): offline refusal, retries, typed errors.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from packaging.version import Version

from nnpm.errors import (
    ConfigError,
    IntegrityError,
    ManifestError,
    NnpmError,
    PackageNotFoundError,
    SignatureError,
)
from nnpm.fsutil import writing
from nnpm.package.card import render_card
from nnpm.package.files import MAX_MANIFEST_BYTES
from nnpm.package.manifest import MANIFEST_NAME, FileEntry, Manifest, sha256_bytes
from nnpm.package.naming import PackageName
from nnpm.package.signing import MAX_SIGNATURE_BYTES, SIGNATURE_NAME
from nnpm.progress import Progress
from nnpm.registry.base import PublishResult, Registry, VersionInfo
from nnpm.registry.hub import listing
from nnpm.registry.hub.download import MIN_RATE, Deadline, FileSink, MemorySink, Sink, fetch
from nnpm.registry.hub.http import HubCaller, HubFileNotFoundError, redacting
from nnpm.registry.hub.names import (
    NNPM_TAG,
    SCHEME,
    package_name_for,
    parse_hub_url,
    repo_id_for,
    tag_for,
    version_from_tag,
)
from nnpm.registry.unreadable import UnreadableVersion

if TYPE_CHECKING:
    from huggingface_hub import HfApi


class HubRegistry(Registry):
    """`hf://<namespace>`: each package a model repo, each version a tag, each publish one commit."""

    scheme = "hf"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        private: bool | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        offline: bool | None = None,
        download_timeout: float | None = None,
        min_rate: float = MIN_RATE,
    ) -> None:
        """`endpoint` defaults to HF_ENDPOINT / huggingface.co; `token` to HF_TOKEN or the saved login.

        `retries` is how many extra attempts a 5xx or a timeout gets, waiting `backoff`
        seconds, then twice that, and so on. A file download must be done within
        `download_timeout + size / min_rate` seconds (download.py); `download_timeout`
        defaults to NNPM_HUB_TIMEOUT, else 30 s, read at each download.
        """
        super().__init__(name, url)
        self.namespace, repo = parse_hub_url(url)
        if repo is not None:
            raise ConfigError(
                f"a Hub registry is a namespace, not a repo: {url!r}",
                hint="write hf://<user or organisation>",
            )
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.private = private
        self.http = HubCaller(
            name, url, self.namespace, token=token, retries=max(0, retries), backoff=backoff, offline=offline
        )
        self.download_timeout = download_timeout
        self.min_rate = min_rate
        #: each broken tag the last search met (nnpm.registry.unreadable)
        self.broken: list[UnreadableVersion] = []
        self._api_instance: HfApi | None = None
        self._manifests: dict[tuple[str, str], bytes] = {}
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the token
        return f"HubRegistry(name={self.name!r}, url={self.url!r}, endpoint={self.endpoint!r})"

    def describe(self) -> str:
        return f"{self.name} ({self.url}{' at ' + self.endpoint if self.endpoint else ''})"

    @property
    def retries(self) -> int:
        return self.http.retries

    @property
    def backoff(self) -> float:
        return self.http.backoff

    @property
    def offline(self) -> bool | None:
        return self.http.offline

    def repo_id(self, name: PackageName) -> str:
        return repo_id_for(self.namespace, name)

    def repo_url(self, name: PackageName) -> str:
        """`hf://my-org/fmnist__sneaker-module`: how messages and the lock name a package's repo."""
        return f"{SCHEME}{self.repo_id(name)}"

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def _api(self) -> HfApi:
        """The client, made on first use: importing huggingface_hub costs CLI start-up time."""
        if self._api_instance is None:
            from huggingface_hub import HfApi

            from nnpm._version import __version__ as nnpm_version

            self._api_instance = HfApi(
                endpoint=self.endpoint,
                token=self.http.token,
                library_name="nnpm",
                library_version=nnpm_version,
            )
        return self._api_instance

    def _download(
        self, repo_id: str, filename: str, revision: str, sink: Sink, *, limit: int, too_large, declared=True
    ) -> int:
        """Stream one file at `revision` into `sink`: at most `limit` bytes, within the deadline its size
        allows (download.py); transient errors are retried while the deadline allows."""
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers

        from nnpm._version import __version__ as nnpm_version

        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=self._api.endpoint)
        headers = build_hf_headers(token=self.http.token, library_name="nnpm", library_version=nnpm_version)
        deadline = Deadline.for_size(limit, base=self.download_timeout, min_rate=self.min_rate)
        where = f"{SCHEME}{repo_id}@{revision}/{filename}"
        return fetch(
            self.http,
            url,
            headers,
            sink,
            limit=limit,
            deadline=deadline,
            too_large=too_large,
            what=f"download {filename}",
            where=where,
            declared=declared,
        )

    def _manifest_bytes(self, name: PackageName, revision: str, label: str) -> bytes:
        """nnpm.toml at `revision` (at most MAX_MANIFEST_BYTES); cached when the revision is a commit sha."""
        repo_id = self.repo_id(name)
        with self._cache_lock:
            cached = self._manifests.get((repo_id, revision))
        if cached is not None:
            return cached
        where = f"{SCHEME}{repo_id}@{label}/{MANIFEST_NAME}"
        too_large = lambda received: ManifestError(  # noqa: E731
            f"the Hub sent more than {MAX_MANIFEST_BYTES} bytes for {MANIFEST_NAME}, the most a manifest may "
            "hold; the download was stopped there",
            where=where,
            hint="the repo or the server is broken; tell the repo's owner, or install a different version",
        )
        sink = MemorySink()
        try:
            self._download(
                repo_id,
                MANIFEST_NAME,
                revision,
                sink,
                limit=MAX_MANIFEST_BYTES,
                too_large=too_large,
                declared=False,
            )
        except HubFileNotFoundError:
            raise ManifestError(
                f"{SCHEME}{repo_id} is not an nnpm package: no {MANIFEST_NAME} at {label}",
                where=f"registry {self.name}",
                hint="publish it with `nnpm publish DIR --registry NAME`, or install a different repo",
            ) from None
        data = bytes(sink.data)
        if len(revision) == 40:
            with self._cache_lock:
                self._manifests[(repo_id, revision)] = data
        return data

    @redacting
    def fetch_signature(self, info: VersionInfo) -> bytes | None:
        """The version's nnpm.sig at its pinned commit, or None when it was published unsigned."""
        repo_id, revision = self.repo_id(info.name), self._revision(info)
        where = f"{SCHEME}{repo_id}@{revision}/{SIGNATURE_NAME}"
        too_large = lambda received: SignatureError(  # noqa: E731
            f"the Hub sent more than {MAX_SIGNATURE_BYTES} bytes for {SIGNATURE_NAME}", where=where
        )
        sink = MemorySink()
        try:
            self._download(
                repo_id,
                SIGNATURE_NAME,
                revision,
                sink,
                limit=MAX_SIGNATURE_BYTES,
                too_large=too_large,
                declared=False,
            )
        except HubFileNotFoundError:
            return None
        return bytes(sink.data)

    def _refs(self, name: PackageName, *, what: str, writing: bool = False):
        """The repo's branches and tags; PackageNotFoundError when there is no such repo."""
        repo_id = self.repo_id(name)
        return self.http.call(
            lambda: self._api.list_repo_refs(repo_id), where=f"{SCHEME}{repo_id}", what=what, writing=writing
        )

    # --- reading -------------------------------------------------------------------------------

    @redacting
    def versions(self, name: PackageName) -> list[VersionInfo]:
        """Every `v<version>` tag of the package's repo with the manifest behind it; [] for no repo."""
        return [self._read(name, version, tag, sha) for version, tag, sha in self._version_tags(name)]

    def _version_tags(self, name: PackageName) -> list[tuple[Version, str, str]]:
        """(version, tag, commit sha) for each version tag, oldest first; [] for no repo."""
        try:
            refs = self._refs(name, what="list versions")
        except PackageNotFoundError:
            return []
        tags = [(version_from_tag(t.name), t.name, t.target_commit) for t in refs.tags]
        return sorted((t for t in tags if t[0] is not None), key=lambda t: t[0])

    def _read(self, name: PackageName, version: Version, tag: str, sha: str) -> VersionInfo:
        """The VersionInfo of the version `tag` names, from the manifest at commit `sha`."""
        data = self._manifest_bytes(name, sha, tag)
        return self._version_info(name, version, data, sha, f"{self.repo_url(name)}@{tag}")

    def _version_info(
        self, name: PackageName, version: Version, data: bytes, revision: str, where: str
    ) -> VersionInfo:
        """`VersionInfo.of` the manifest (pins included), after checking it is the version the tag says."""
        try:
            manifest = Manifest.from_toml(data.decode("utf-8"), where=f"{where}/{MANIFEST_NAME}")
        except UnicodeDecodeError:
            raise ManifestError("nnpm.toml is not UTF-8 text", where=f"{where}/{MANIFEST_NAME}") from None
        if manifest.name != name or manifest.version != version:
            raise ManifestError(
                f"the tag says {name}=={version} but nnpm.toml says {manifest.id}",
                where=f"{where}/{MANIFEST_NAME}",
                hint="the repo's tags were edited by hand; ask its owner to fix them",
            )
        return VersionInfo.of(manifest, sha256_bytes(data), revision=revision)

    @redacting
    def package_names(self) -> list[str]:
        """Every package in the namespace (repos tagged nnpm and named like one); one listing, no manifests."""
        models = self.http.call(
            lambda: list(self._api.list_models(author=self.namespace, filter=NNPM_TAG)),
            where=self.url,
            what="list packages",
            client_retries=True,
        )
        names = []
        for model in models:
            try:
                names.append(str(package_name_for(model.id)))
            except NnpmError:
                continue  # tagged nnpm but not named like a package: not ours to list
        return sorted(set(names))

    @redacting
    def search(self, query: str = "") -> list[VersionInfo]:
        """The latest readable version of each package matching `query` (hub/listing.py says how a
        broken tag is skipped and named in `self.broken`)."""
        hits, self.broken = listing.search(self, query)
        return hits

    def _revision(self, info: VersionInfo) -> str:
        return info.revision or tag_for(info.version)

    @redacting
    def fetch_manifest(self, info: VersionInfo) -> bytes:
        """nnpm.toml at the pinned commit (info.revision) or else at the version's tag; checked against info.sha256."""
        revision = self._revision(info)
        data = self._manifest_bytes(info.name, revision, revision)
        digest = sha256_bytes(data)
        if info.sha256 and digest != info.sha256:
            raise IntegrityError(
                f"manifest sha256 mismatch: expected {info.sha256}, found {digest}",
                where=f"{self.repo_url(info.name)}@{revision}/{MANIFEST_NAME}",
                hint="the Hub copy differs from the one that was locked; someone rewrote it, do not trust it",
            )
        return data

    @redacting
    def fetch_file(
        self, info: VersionInfo, path: str, entry: FileEntry, dest: Path, progress: Progress | None = None
    ) -> None:
        """Download `path` at the pinned revision to `dest`, re-hashed against `entry` (IntegrityError on mismatch).

        A file the repo lacks raises HubFileNotFoundError (exit code 4).
        """
        dest = Path(dest)
        with writing(dest.parent):
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".nnpm-hub-", dir=dest.parent))
        part = tmp / "download"
        try:
            with writing(dest.parent), open(part, "wb") as out:
                self.fetch_into(info, path, entry, out, progress)
            os.replace(part, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @redacting
    def fetch_into(
        self, info: VersionInfo, path: str, entry: FileEntry, out: BinaryIO, progress: Progress | None = None
    ) -> None:
        """Stream `path` at the pinned revision into the open file `out` (the store's hashing writer,
        so the bytes are hashed as they arrive, once), checked against `entry` as it ends."""
        revision = self._revision(info)
        where = f"{self.repo_url(info.name)}@{revision}/{path}"

        def too_large(received: int) -> NnpmError:
            return IntegrityError(
                f"the Hub sent more than the {entry.size} bytes nnpm.toml declares for {path} "
                f"({received} or more); the download was stopped there and nothing was written",
                where=where,
                hint="the file on the Hub differs from its manifest; do not use it, and tell the repo's owner",
            )

        sink = FileSink(out, str(getattr(out, "name", "") or where))
        size = self._download(
            self.repo_id(info.name), path, revision, sink, limit=entry.size, too_large=too_large
        )
        digest = sink.digest()
        if digest != entry.sha256 or size != entry.size:
            raise IntegrityError(
                f"sha256 mismatch: expected {entry.sha256} ({entry.size} bytes), found {digest} ({size} bytes)",
                where=where,
                hint="the file on the Hub differs from its manifest; do not use it, and tell the repo's owner",
            )
        if progress:
            progress.advance(size)

    # --- publishing ----------------------------------------------------------------------------

    def card(self, manifest: Manifest) -> str:
        """The Hub card: nnpm's card with base_model = the source model's repo in this namespace."""
        base = self.repo_id(PackageName.parse(manifest.source.model)) if manifest.source.model else None
        return render_card(manifest, base_model_repo=base)

    @redacting
    def publish(
        self, package_dir: Path, manifest: Manifest | None = None, progress: Progress | None = None
    ) -> PublishResult:
        """create_repo + one create_commit with every file + create_tag; identical content again is a no-op."""
        from nnpm.registry.hub.publish import Publisher

        return Publisher(self).publish(Path(package_dir), progress)
