"""A Hugging Face Hub namespace as an nnpm registry (`hf://<namespace>`).

Mapping (docs/hub.md):

- one Hub *model* repo per package: nnpm `fmnist/sneaker-module` in registry
  `hf://my-org` lives in `my-org/fmnist__sneaker-module`. nnpm name parts never hold
  "_" (lowercase letters, digits and single dashes only), so the mapping is
  reversible; the Hub forbids "--" and ".." in repo ids, hence "__". See
  `repo_id_for` and `package_name_for`.
- one git tag per version, named `v` + the canonical PEP 440 version (`v1.0.0`);
  other tags and branches are ignored. `VersionInfo.revision` is the commit sha the
  tag pointed at when it was read; fetching by that sha gives the same bytes even if
  the tag is moved later, which is what the lock records.
- a publish is `create_repo(exist_ok=True)`, then ONE `create_commit` holding every
  file of the package (nnpm.toml, weights, README.md card; files of an older version
  that the new one lacks are deleted in the same commit), then `create_tag`.

Integrity: the client only checks sizes; this backend re-hashes every file it
downloads against the manifest's sha256 (and the manifest against
`VersionInfo.sha256`) and raises IntegrityError on any difference.

Credentials come from the `token` argument, else HF_TOKEN, else the Hub client's own
login (`hf auth login`); they never appear in messages. Offline (HF_HUB_OFFLINE=1 or
NNPM_OFFLINE=1) every method raises OfflineError before any request is made.
`huggingface_hub` is imported inside methods so that CLI start-up stays fast.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from packaging.version import InvalidVersion, Version

from nnpm import config
from nnpm.errors import (
    AuthenticationError,
    ConfigError,
    ImmutableVersionError,
    IntegrityError,
    InvalidNameError,
    ManifestError,
    NnpmError,
    OfflineError,
    PackageNotFoundError,
    RegistryError,
    VersionNotFoundError,
)
from nnpm.fsutil import hash_file
from nnpm.package.card import render_card
from nnpm.package.manifest import CARD_NAME, MANIFEST_NAME, FileEntry, Manifest, sha256_bytes
from nnpm.package.naming import PackageName, Requirement
from nnpm.registry.base import Progress, PublishResult, Registry, VersionInfo

if TYPE_CHECKING:
    from huggingface_hub import HfApi

T = TypeVar("T")

SCHEME = "hf://"
#: the Hub tag every nnpm repo carries (from the card's YAML `tags`), used to list them
NNPM_TAG = "nnpm"
#: the tag that marks a version: v1.0.0
TAG_PREFIX = "v"
SEPARATOR = "__"
MAX_REPO_NAME = 96
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_LOGIN_HINT = "set HF_TOKEN to a Hugging Face access token, or run `hf auth login`"


# --- the mapping between nnpm names and Hub repos ------------------------------------------------


def parse_hub_url(url: str) -> tuple[str, str | None]:
    """`hf://my-org` -> ("my-org", None); `hf://my-org/repo` -> ("my-org", "repo")."""
    if not url.startswith(SCHEME):
        raise ConfigError(f"not a Hub URL: {url!r}", hint="write hf://<user or organisation>")
    parts = url.removeprefix(SCHEME).strip("/").split("/")
    if not 1 <= len(parts) <= 2 or not all(_NAMESPACE_RE.match(p) and len(p) <= MAX_REPO_NAME for p in parts):
        raise ConfigError(f"invalid Hub URL {url!r}", hint="write hf://<user or organisation>[/<repo>]")
    return parts[0], parts[1] if len(parts) == 2 else None


def repo_name_for(name: PackageName) -> str:
    """`fmnist/sneaker-module` -> `fmnist__sneaker-module` (the repo's name inside the namespace)."""
    repo = f"{name.namespace}{SEPARATOR}{name.name}"
    if len(repo) > MAX_REPO_NAME:
        raise InvalidNameError(
            f"{name} is too long for a Hub repo name ({len(repo)} > {MAX_REPO_NAME} characters)",
            hint="namespace and name together may hold at most 94 characters on the Hub",
        )
    return repo


def repo_id_for(namespace: str, name: PackageName) -> str:
    """`("my-org", fmnist/sneaker-module)` -> `my-org/fmnist__sneaker-module`."""
    return f"{namespace}/{repo_name_for(name)}"


def package_name_for(repo: str) -> PackageName:
    """The inverse of `repo_name_for`; accepts a repo name or a full repo id."""
    repo_name = repo.rsplit("/", 1)[-1]
    namespace, sep, name = repo_name.partition(SEPARATOR)
    if not sep:
        raise ManifestError(
            f"Hub repo {repo!r} is not an nnpm package: its name is not <namespace>__<name>",
            hint="nnpm packages live in repos named like fmnist__sneaker-module",
        )
    return PackageName.parse(f"{namespace}/{name}", where=f"Hub repo {repo}")


def parse_hub_requirement(text: str) -> tuple[str, Requirement]:
    """`hf://my-org/fmnist__sneaker-module@1.0.0` -> ("my-org", fmnist/sneaker-module==1.0.0).

    Also accepts a PEP 440 specifier after the repo (`hf://my-org/fmnist__sneaker-module>=1`)
    or nothing (any version). The CLI uses it for `nnpm install hf://...`.
    """
    match = re.match(r"^(hf://[^@<>=!~\s]+)\s*(.*)$", text.strip())
    if not match:
        raise InvalidNameError(
            f"invalid Hub requirement {text!r}", hint="write hf://<namespace>/<repo>[@<version>]"
        )
    namespace, repo = parse_hub_url(match.group(1))
    if repo is None:
        raise InvalidNameError(
            f"{text!r} names a namespace, not a package", hint="write hf://<namespace>/<repo>[@<version>]"
        )
    rest = match.group(2)
    requirement = Requirement.parse(f"{package_name_for(repo)}{rest}", where=text)
    return namespace, requirement


def tag_for(version: Version | str) -> str:
    """The git tag of a version: v + the canonical PEP 440 spelling (v1.0.0)."""
    return f"{TAG_PREFIX}{Version(str(version))}"


def version_from_tag(tag: str) -> Version | None:
    """The version a tag names, or None for a tag that is not an nnpm version tag."""
    if not tag.startswith(TAG_PREFIX):
        return None
    try:
        version = Version(tag[len(TAG_PREFIX) :])
    except InvalidVersion:
        return None
    return version if tag == tag_for(version) else None


def set_request_timeout(seconds: float | None) -> None:
    """Give every Hub API request a timeout (the client's default is none for API calls).

    This configures huggingface_hub's shared HTTP client for the whole process (its
    `set_client_factory`), so an application such as the nnpm CLI calls it once at
    start-up; `None` restores the client's default. A request that times out is
    retried like a 5xx, then reported as a RegistryError.
    """
    from huggingface_hub.utils import _http

    if seconds is None:
        _http.set_client_factory(_http.default_client_factory)
        return

    def factory():
        client = _http.default_client_factory()
        client.timeout = seconds
        return client

    _http.set_client_factory(factory)


def _transient(exc: BaseException) -> bool:
    """5xx, 429, timeouts and dropped connections: worth retrying."""
    try:  # huggingface_hub >= 2 ships its HTTP client as httpx2
        import httpx2 as httpx
    except ImportError:  # pragma: no cover - older clients use httpx
        import httpx
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return exc.response.status_code >= 500 or exc.response.status_code in (408, 429)
    if isinstance(exc, LocalEntryNotFoundError):
        # hf_hub_download could not reach the server (5xx or network) and has no cached copy
        return True
    return isinstance(exc, (httpx.TimeoutException, httpx.TransportError, TimeoutError, ConnectionError))


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
    ) -> None:
        """`endpoint` defaults to HF_ENDPOINT / huggingface.co; `token` to HF_TOKEN or the saved login.

        `retries` is how many extra attempts a 5xx or a timeout gets, waiting `backoff`
        seconds, then twice that, and so on.
        """
        super().__init__(name, url)
        self.namespace, repo = parse_hub_url(url)
        if repo is not None:
            raise ConfigError(
                f"a Hub registry is a namespace, not a repo: {url!r}",
                hint="write hf://<user or organisation>",
            )
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self._token = token
        self.private = private
        self.retries = max(0, retries)
        self.backoff = backoff
        self.offline = offline
        self._api_instance: HfApi | None = None
        self._manifests: dict[tuple[str, str], bytes] = {}
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the token
        return f"HubRegistry(name={self.name!r}, url={self.url!r}, endpoint={self.endpoint!r})"

    def describe(self) -> str:
        return f"{self.name} ({self.url}{' at ' + self.endpoint if self.endpoint else ''})"

    def repo_id(self, name: PackageName) -> str:
        return repo_id_for(self.namespace, name)

    def repo_url(self, name: PackageName) -> str:
        """`hf://my-org/fmnist__sneaker-module`: how messages and the lock name a package's repo."""
        return f"{SCHEME}{self.repo_id(name)}"

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def _api(self) -> HfApi:
        if self._api_instance is None:
            from huggingface_hub import HfApi

            from nnpm._version import __version__ as nnpm_version

            self._api_instance = HfApi(
                endpoint=self.endpoint, token=self._token, library_name="nnpm", library_version=nnpm_version
            )
        return self._api_instance

    def _ensure_online(self, what: str) -> None:
        if self.offline if self.offline is not None else config.offline():
            raise OfflineError(
                f"cannot {what}: nnpm is offline and {self.url} is on the network",
                where=f"registry {self.name}",
            )

    def _redact(self, text: str) -> str:
        token = self._token or os.environ.get("HF_TOKEN")
        return text.replace(token, "***") if token else text

    def _call(self, fn: Callable[[], T], *, where: str, what: str, writing: bool = False) -> T:
        """Run one client call: retry transient failures with backoff, translate the rest into nnpm errors."""
        self._ensure_online(what)
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except NnpmError:
                raise
            except Exception as exc:
                if _transient(exc) and attempt < self.retries:
                    time.sleep(delay)
                    delay *= 2
                    continue
                raise self._translate(
                    exc, where=where, what=what, writing=writing, attempts=attempt + 1
                ) from None
        raise AssertionError("unreachable")

    def _translate(self, exc: Exception, *, where: str, what: str, writing: bool, attempts: int) -> NnpmError:
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RemoteEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        status = (
            exc.response.status_code if isinstance(exc, HfHubHTTPError) and exc.response is not None else None
        )
        server_says = ""
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            server_says = exc.response.headers.get("X-Error-Message") or ""
        server_says = self._redact(server_says)
        if isinstance(exc, OfflineModeIsEnabled):
            return OfflineError(f"cannot {what}: the Hub client is in offline mode", where=where)
        if isinstance(exc, GatedRepoError):
            return AuthenticationError(
                f"cannot {what}: the repo is gated",
                where=where,
                hint=f"request access on the Hub, then {_LOGIN_HINT}",
            )
        if (
            status in (401, 403)
            and not isinstance(exc, RepositoryNotFoundError)
            or (writing and status == 401)
        ):
            need = (
                f"a token with write access to {self.namespace!r}" if writing else "a token that can read it"
            )
            reason = "not authenticated" if status == 401 else "permission denied"
            detail = f" ({server_says})" if server_says else ""
            return AuthenticationError(
                f"cannot {what}: {reason}{detail}", where=where, hint=f"{_LOGIN_HINT} with {need}"
            )
        if isinstance(exc, RepositoryNotFoundError):
            return PackageNotFoundError(
                f"no such repo on the Hub{' (or it is private: log in to see it)' if status == 401 else ''}",
                where=where,
                hint=f"check the name with `nnpm search --registry {self.name}`",
            )
        if isinstance(exc, RevisionNotFoundError):
            return VersionNotFoundError("no such version (tag or commit) in the repo", where=where)
        if isinstance(exc, RemoteEntryNotFoundError):
            return RegistryError(f"cannot {what}: the file is missing from the repo", where=where)
        if _transient(exc):
            cause = f"HTTP {status}" if status else type(exc).__name__
            return RegistryError(
                f"cannot {what}: the Hub did not answer ({cause}) after {attempts} attempt{'s' if attempts > 1 else ''}",
                where=where,
                hint="the Hub may be down or unreachable; try again later, or use --offline to install from the store",
            )
        if status is not None:
            detail = f": {server_says}" if server_says else ""
            return RegistryError(f"cannot {what}: the Hub answered HTTP {status}{detail}", where=where)
        return RegistryError(
            f"cannot {what}: {self._redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__}",
            where=where,
        )

    def _download(self, repo_id: str, filename: str, revision: str, directory: Path) -> Path:
        """Download one file at `revision` into `directory` (a fresh temp dir), retrying transient errors."""
        from huggingface_hub import hf_hub_download

        where = f"{SCHEME}{repo_id}@{revision}/{filename}"

        def run() -> Path:
            return Path(
                hf_hub_download(
                    repo_id,
                    filename,
                    revision=revision,
                    local_dir=directory,
                    endpoint=self._api.endpoint,
                    token=self._token,
                    library_name="nnpm",
                )
            )

        return self._call(run, where=where, what=f"download {filename}")

    def _manifest_bytes(self, name: PackageName, revision: str, label: str) -> bytes:
        repo_id = self.repo_id(name)
        with self._cache_lock:
            cached = self._manifests.get((repo_id, revision))
        if cached is not None:
            return cached
        with tempfile.TemporaryDirectory(prefix="nnpm-hub-") as tmp:
            try:
                data = self._download(repo_id, MANIFEST_NAME, revision, Path(tmp)).read_bytes()
            except RegistryError as exc:
                if "file is missing" in exc.what:
                    raise ManifestError(
                        f"{SCHEME}{repo_id} is not an nnpm package: no {MANIFEST_NAME} at {label}",
                        where=f"registry {self.name}",
                        hint="publish it with `nnpm publish DIR --registry NAME`, or install a different repo",
                    ) from None
                raise
        if len(revision) == 40:  # a commit sha: its content can never change
            with self._cache_lock:
                self._manifests[(repo_id, revision)] = data
        return data

    # --- reading -------------------------------------------------------------------------------

    def versions(self, name: PackageName) -> list[VersionInfo]:
        """Every `v<version>` tag of the package's repo with the manifest behind it; [] for no repo."""
        repo_id = self.repo_id(name)
        where = f"{SCHEME}{repo_id}"
        infos = []
        for version, tag, sha in self._version_tags(name):
            data = self._manifest_bytes(name, sha, tag)
            infos.append(self._version_info(name, version, data, sha, f"{where}@{tag}"))
        return infos

    def _version_tags(self, name: PackageName) -> list[tuple[Version, str, str]]:
        """(version, tag, commit sha) for each version tag, oldest first; [] for no repo."""
        repo_id = self.repo_id(name)
        try:
            refs = self._call(
                lambda: self._api.list_repo_refs(repo_id), where=f"{SCHEME}{repo_id}", what="list versions"
            )
        except PackageNotFoundError:
            return []
        tags = [(version_from_tag(t.name), t.name, t.target_commit) for t in refs.tags]
        return sorted((t for t in tags if t[0] is not None), key=lambda t: t[0])

    def _version_info(
        self, name: PackageName, version: Version, data: bytes, revision: str, where: str
    ) -> VersionInfo:
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

    def search(self, query: str = "") -> list[VersionInfo]:
        """The latest version of each nnpm repo in the namespace (list_models: author + the nnpm tag) matching `query`."""
        where = self.url
        models = self._call(
            lambda: list(self._api.list_models(author=self.namespace, filter=NNPM_TAG)),
            where=where,
            what="search",
        )
        words = query.lower().split()
        found = []
        for model in sorted(models, key=lambda m: m.id):
            try:
                name = package_name_for(model.id)
            except NnpmError:
                continue  # tagged nnpm but not named like a package: not ours to list
            tags = self._version_tags(name)
            if not tags:
                continue
            version, tag, sha = tags[-1]  # only the newest manifest is read
            try:
                latest = self._version_info(
                    name, version, self._manifest_bytes(name, sha, tag), sha, f"{self.repo_url(name)}@{tag}"
                )
            except ManifestError:
                continue  # a broken repo should not hide the others
            haystack = " ".join([str(name), latest.description, *latest.classes, latest.kind]).lower()
            if all(word in haystack for word in words):
                found.append(latest)
        return found

    def _revision(self, info: VersionInfo) -> str:
        return info.revision or tag_for(info.version)

    def fetch_manifest(self, info: VersionInfo) -> bytes:
        """nnpm.toml at the pinned commit (info.revision) or else at the version's tag; checked against info.sha256."""
        revision = self._revision(info)
        data = self._manifest_bytes(info.name, revision, revision)
        digest = sha256_bytes(data)
        if info.sha256 and digest != info.sha256:
            raise IntegrityError(
                f"manifest sha256 mismatch: expected {info.sha256}, found {digest}",
                where=f"{SCHEME}{self.repo_id(info.name)}@{revision}/{MANIFEST_NAME}",
                hint="the Hub copy differs from the one that was locked; someone rewrote it, do not trust it",
            )
        return data

    def fetch_file(
        self, info: VersionInfo, path: str, entry: FileEntry, dest: Path, progress: Progress | None = None
    ) -> None:
        """Download `path` at the pinned revision to `dest`, re-hashed against `entry` (IntegrityError on mismatch)."""
        revision = self._revision(info)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        where = f"{SCHEME}{self.repo_id(info.name)}@{revision}/{path}"
        tmp = Path(tempfile.mkdtemp(prefix=".nnpm-hub-", dir=dest.parent))
        try:
            downloaded = self._download(self.repo_id(info.name), path, revision, tmp)
            digest, size = hash_file(downloaded)
            if digest != entry.sha256 or size != entry.size:
                raise IntegrityError(
                    f"sha256 mismatch: expected {entry.sha256} ({entry.size} bytes), found {digest} ({size} bytes)",
                    where=where,
                    hint="the file on the Hub differs from its manifest; do not use it, and tell the repo's owner",
                )
            os.replace(downloaded, dest)
            if progress:
                progress(size)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # --- publishing ----------------------------------------------------------------------------

    def card(self, manifest: Manifest) -> str:
        """The Hub card: nnpm's card with base_model = the source model's repo in this namespace."""
        base = self.repo_id(PackageName.parse(manifest.source.model)) if manifest.source.model else None
        return render_card(manifest, base_model_repo=base)

    def publish(
        self, package_dir: Path, manifest: Manifest | None = None, progress: Progress | None = None
    ) -> PublishResult:
        """create_repo + one create_commit with every file + create_tag; identical content again is a no-op."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        from nnpm.package.pack import check_package

        self._ensure_online("publish")
        package_dir = Path(package_dir)
        manifest = check_package(package_dir)
        data = (package_dir / MANIFEST_NAME).read_bytes()
        digest = sha256_bytes(data)
        name, tag = manifest.name, tag_for(manifest.version)
        repo_id = self.repo_id(name)
        where = f"{SCHEME}{repo_id}"

        existing = self._existing(name, manifest.version)
        if existing is not None:
            return self._republish(manifest, digest, existing)

        self._call(
            lambda: self._api.create_repo(repo_id, repo_type="model", exist_ok=True, private=self.private),
            where=where,
            what="create the repo",
            writing=True,
        )
        refs = self._call(
            lambda: self._api.list_repo_refs(repo_id), where=where, what="read the repo's refs", writing=True
        )
        head = next((b.target_commit for b in refs.branches if b.name == "main"), None)
        present = set(
            self._call(
                lambda: self._api.list_repo_files(repo_id, revision=head or "main"),
                where=where,
                what="list the repo's files",
            )
        )

        operations: list[Any] = [CommitOperationAdd(path_in_repo=MANIFEST_NAME, path_or_fileobj=data)]
        for rel in manifest.files:
            operations.append(CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(package_dir / rel)))
        if CARD_NAME not in manifest.files:
            # The card is not part of the package's hashed files: render the Hub card (with base_model).
            operations.append(
                CommitOperationAdd(path_in_repo=CARD_NAME, path_or_fileobj=self.card(manifest).encode())
            )
        keep = {op.path_in_repo for op in operations} | {".gitattributes"}
        operations += [CommitOperationDelete(path_in_repo=p) for p in sorted(present - keep)]

        message = f"nnpm publish {manifest.id}"
        commit = self._call(
            lambda: self._api.create_commit(
                repo_id,
                operations=operations,
                commit_message=message,
                commit_description=f"manifest sha256 {digest}",
                parent_commit=head,
            ),
            where=where,
            what=f"commit {manifest.id}",
            writing=True,
        )
        revision = commit.oid

        def create_tag() -> bool:
            from huggingface_hub.errors import HfHubHTTPError

            try:
                self._api.create_tag(repo_id, tag=tag, revision=revision, tag_message=message)
            except HfHubHTTPError as exc:
                if exc.response is not None and exc.response.status_code == 409:
                    return False  # someone tagged this version between our check and now
                raise
            return True

        if not self._call(create_tag, where=f"{where}@{tag}", what=f"tag {manifest.id}", writing=True):
            raced = self._existing(name, manifest.version)
            if raced is None:
                raise RegistryError(f"could not create tag {tag}", where=where)
            return self._republish(manifest, digest, raced)
        if progress:
            progress(sum(e.size for e in manifest.files.values()) + len(data))
        return PublishResult(manifest, digest, self.name, created=True, revision=revision)

    def _existing(self, name: PackageName, version: Version) -> VersionInfo | None:
        """What the version's tag holds now; None when the repo or the tag does not exist."""
        where = self.repo_url(name)
        try:
            refs = self._call(
                lambda: self._api.list_repo_refs(self.repo_id(name)), where=where, what="list versions"
            )
        except PackageNotFoundError:
            return None
        tag = tag_for(version)
        sha = next((t.target_commit for t in refs.tags if t.name == tag), None)
        if sha is None:
            return None
        try:
            return self._version_info(
                name, version, self._manifest_bytes(name, sha, tag), sha, f"{where}@{tag}"
            )
        except ManifestError:
            raise ImmutableVersionError(
                f"tag {tag} already exists but does not hold a valid nnpm package",
                where=where,
                hint="delete the tag on the Hub, or publish a new version",
            ) from None

    def _republish(self, manifest: Manifest, digest: str, existing: VersionInfo) -> PublishResult:
        if existing.sha256 == digest:
            return PublishResult(manifest, digest, self.name, created=False, revision=existing.revision)
        raise ImmutableVersionError(
            f"{manifest.id} is already published with different content (manifest sha256 {existing.sha256})",
            where=f"{self.repo_url(manifest.name)}@{tag_for(manifest.version)}",
        )
