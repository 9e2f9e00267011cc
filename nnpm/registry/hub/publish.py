"""Publishing a package to a Hub repo: one commit with exactly the package's files, then one tag.

Apart from reading because a publish is the only thing that writes, and the only
place with races to think about: the commit names the head it read as its parent
(so two publishes cannot interleave), and a tag that appears between our check and
our `create_tag` (409) is re-read and judged like any existing version: the same
manifest bytes is a no-op, anything else is refused. Published versions never change.

Files the Hub stores in LFS (weights) travel through Xet or through the LFS batch API before the
commit names them. The client picks Xet whenever `hf_xet` is installed, without asking the
server, so a Hub-compatible server that offers only LFS (a mirror, nnpm.testing.HubServer) would
fail every publish of weights. nnpm asks first: the Hub answers its Xet write-token endpoint with
the `X-Xet-*` connection headers when it stores the repo in Xet; any other answer means LFS, and
the commit is made with the client's Xet path switched off (`upload_path`).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from nnpm import config
from nnpm.errors import ImmutableVersionError, ManifestError, PackageNotFoundError, RegistryError
from nnpm.package.manifest import CARD_NAME, MANIFEST_NAME, Manifest, sha256_bytes
from nnpm.package.naming import PackageName
from nnpm.package.signing import SIGNATURE_NAME
from nnpm.progress import Progress
from nnpm.registry.base import PublishResult, VersionInfo
from nnpm.registry.hub.http import _httpx, status_of
from nnpm.registry.hub.names import tag_for

if TYPE_CHECKING:
    from nnpm.registry.hub.registry import HubRegistry

#: files a publish never deletes from the repo although the package does not list them
HUB_OWNED = frozenset({".gitattributes"})
#: held while a commit runs with the client's Xet path switched off (a process-wide setting)
_NO_XET = threading.Lock()
#: commits running with the client's own progress bars switched off, and whether they were on before
_BARS = {"commits": 0, "were_on": False}
_BARS_LOCK = threading.Lock()


@contextmanager
def _client_bars_off() -> Iterator[None]:
    """Silence huggingface_hub's bars while a commit runs: nnpm reports a publish's progress itself
    (nnpm.progress, which `-q` silences), and the client's per-file upload bars, which belong to no
    group, would draw on stderr where -q cannot reach them. The switch is the client's global one,
    so concurrent publishes share it: the first turns it off, the last puts back what it found
    (per-group settings do not survive a publish). HF_HUB_DISABLE_PROGRESS_BARS=0 keeps them on."""
    from huggingface_hub import constants
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    if constants.HF_HUB_DISABLE_PROGRESS_BARS is False:
        yield
        return
    with _BARS_LOCK:
        if _BARS["commits"] == 0:
            _BARS["were_on"] = not are_progress_bars_disabled()
            disable_progress_bars()
        _BARS["commits"] += 1
    try:
        yield
    finally:
        with _BARS_LOCK:
            _BARS["commits"] -= 1
            if _BARS["commits"] == 0 and _BARS["were_on"]:
                enable_progress_bars()


class Publisher:
    """One publish to `registry`'s namespace (HubRegistry.publish makes one per call)."""

    def __init__(self, registry: HubRegistry) -> None:
        self.registry = registry
        self.http = registry.http

    def publish(self, package_dir: Path, progress: Progress | None = None) -> PublishResult:
        """Check the package, then commit and tag it unless that version is already on the Hub."""
        from nnpm.package.pack import check_package

        self.http.ensure_online("publish")
        manifest = check_package(package_dir)
        data = (package_dir / MANIFEST_NAME).read_bytes()
        digest = sha256_bytes(data)
        existing = self.existing(manifest.name, manifest.version)
        if existing is not None:
            return self.republish(manifest, digest, existing, package_dir)
        revision = self.commit(package_dir, manifest, data, digest)
        if not self.tag(manifest, revision):
            raced = self.existing(manifest.name, manifest.version)
            if raced is None:
                where = self.registry.repo_url(manifest.name)
                raise RegistryError(f"could not create tag {tag_for(manifest.version)}", where=where)
            return self.republish(manifest, digest, raced, package_dir)
        if progress:
            progress.advance(sum(e.size for e in manifest.files.values()) + len(data))
        return PublishResult(manifest, digest, self.registry.name, created=True, revision=revision)

    def commit(self, package_dir: Path, manifest: Manifest, data: bytes, digest: str) -> str:
        """Create the repo if needed and commit exactly the package's files on main; returns the commit sha."""
        registry, api = self.registry, self.registry._api
        repo_id, where = registry.repo_id(manifest.name), registry.repo_url(manifest.name)
        self.http.call(
            lambda: api.create_repo(repo_id, repo_type="model", exist_ok=True, private=registry.private),
            where=where,
            what="create the repo",
            writing=True,
        )
        refs = registry._refs(manifest.name, what="read the repo's refs", writing=True)
        head = next((b.target_commit for b in refs.branches if b.name == "main"), None)
        present = self.http.call(
            lambda: api.list_repo_files(repo_id, revision=head or "main"),
            where=where,
            what="list the repo's files",
            client_retries=True,
        )
        operations = self.operations(package_dir, manifest, data, {self.listed(p, where) for p in present})

        def create_commit():
            with self.upload_path(repo_id), _client_bars_off():
                return api.create_commit(
                    repo_id,
                    operations=operations,
                    commit_message=f"nnpm publish {manifest.id}",
                    commit_description=f"manifest sha256 {digest}",
                    parent_commit=head,
                )

        commit = self.http.call(
            create_commit, where=where, what=f"commit {manifest.id}", writing=True, client_retries=True
        )
        return commit.oid

    @contextmanager
    def upload_path(self, repo_id: str) -> Iterator[None]:
        """Run the commit with the client's Xet uploads switched off unless the server offers Xet.

        The switch is huggingface_hub's own (`constants.HF_HUB_DISABLE_XET`, read at each upload) and
        process-wide, so it is flipped under a lock and restored after; a Xet-capable publish that
        runs meanwhile in another thread then uploads through LFS, which the Hub accepts as well."""
        from huggingface_hub import constants

        if (
            constants.HF_HUB_DISABLE_XET
            or importlib.util.find_spec("hf_xet") is None
            or self.offers_xet(repo_id)
        ):
            yield
            return
        with _NO_XET:
            saved, constants.HF_HUB_DISABLE_XET = constants.HF_HUB_DISABLE_XET, True
            try:
                yield
            finally:
                constants.HF_HUB_DISABLE_XET = saved

    def offers_xet(self, repo_id: str) -> bool:
        """Whether the server stores `repo_id` in Xet: its write-token endpoint answers the connection headers.

        One request, not retried: a failure means LFS, which the Hub accepts too."""
        from huggingface_hub import constants
        from huggingface_hub.utils import build_hf_headers, get_session

        from nnpm._version import __version__ as nnpm_version

        url = f"{self.registry._api.endpoint}/api/models/{repo_id}/xet-write-token/main"
        headers = build_hf_headers(token=self.http.token, library_name="nnpm", library_version=nnpm_version)
        try:
            answer = get_session().get(url, headers=headers, timeout=config.hub_timeout() or 30.0)
        except _httpx().HTTPError:
            return False
        wanted = (
            constants.HUGGINGFACE_HEADER_X_XET_ENDPOINT,
            constants.HUGGINGFACE_HEADER_X_XET_ACCESS_TOKEN,
        )
        return answer.status_code == 200 and all(answer.headers.get(h) for h in wanted)

    @staticmethod
    def listed(path: object, where: str) -> str:
        """A path from the repo's file listing, refused when it could point outside the repo: absolute,
        with a `..` or `.` segment, a backslash, or not a string. A server that lists such a path is broken
        or hostile; nothing has been committed yet when this refuses."""
        parts = path.split("/") if isinstance(path, str) else []
        if not parts or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
            raise RegistryError(
                f"the Hub's file listing holds an unsafe path {path!r}; nothing was published",
                where=where,
                hint="the server is broken or hostile: check the registry's endpoint with `nnpm registry list`",
            )
        return path

    def operations(self, package_dir: Path, manifest: Manifest, data: bytes, present: set[str]) -> list[Any]:
        """Add nnpm.toml, every listed file and the card; delete what an older version left behind.

        Deleting in the same commit keeps the tree at each tag exactly the package.
        """
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        operations: list[Any] = [CommitOperationAdd(path_in_repo=MANIFEST_NAME, path_or_fileobj=data)]
        for rel in manifest.files:
            operations.append(CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(package_dir / rel)))
        signature = package_dir / SIGNATURE_NAME
        if signature.is_file():  # travels beside the files it signs (not one of them: it cannot sign itself)
            operations.append(CommitOperationAdd(path_in_repo=SIGNATURE_NAME, path_or_fileobj=str(signature)))
        if CARD_NAME not in manifest.files:
            # The card is not part of the package's hashed files: render the Hub card (with base_model).
            card = self.registry.card(manifest).encode()
            operations.append(CommitOperationAdd(path_in_repo=CARD_NAME, path_or_fileobj=card))
        keep = {op.path_in_repo for op in operations} | HUB_OWNED
        return operations + [CommitOperationDelete(path_in_repo=p) for p in sorted(present - keep)]

    def tag(self, manifest: Manifest, revision: str) -> bool:
        """Tag `revision` as the version; False when someone tagged it between our check and now (409)."""
        from huggingface_hub.errors import HfHubHTTPError

        api = self.registry._api
        repo_id, tag = self.registry.repo_id(manifest.name), tag_for(manifest.version)
        message = f"nnpm publish {manifest.id}"

        def create_tag() -> bool:
            try:
                api.create_tag(repo_id, tag=tag, revision=revision, tag_message=message)
            except HfHubHTTPError as exc:
                if status_of(exc) == 409:
                    return False
                raise
            return True

        where = f"{self.registry.repo_url(manifest.name)}@{tag}"
        return self.http.call(create_tag, where=where, what=f"tag {manifest.id}", writing=True)

    def existing(self, name: PackageName, version: Version) -> VersionInfo | None:
        """What the version's tag holds now; None when the repo or the tag does not exist."""
        try:
            refs = self.registry._refs(name, what="list versions")
        except PackageNotFoundError:
            return None
        tag = tag_for(version)
        sha = next((t.target_commit for t in refs.tags if t.name == tag), None)
        if sha is None:
            return None
        try:
            return self.registry._read(name, version, tag, sha)
        except ManifestError:
            raise ImmutableVersionError(
                f"tag {tag} already exists but does not hold a valid nnpm package",
                where=self.registry.repo_url(name),
                hint="delete the tag on the Hub, or publish a new version",
            ) from None

    def republish(
        self, manifest: Manifest, digest: str, existing: VersionInfo, package_dir: Path
    ) -> PublishResult:
        """The same manifest bytes again is a no-op; anything else under a published version is refused.

        A signature made after the version was published cannot join it on the Hub: a tag names one
        commit, and moving it would change the revision locks pin. That is refused, not skipped."""
        if existing.sha256 == digest:
            local = package_dir / SIGNATURE_NAME
            if local.is_file() and self.registry.fetch_signature(existing) != local.read_bytes():
                raise ImmutableVersionError(
                    f"{manifest.id} was published on the Hub without this {SIGNATURE_NAME}, and a Hub tag "
                    "cannot take a file later",
                    where=f"{self.registry.repo_url(manifest.name)}@{tag_for(manifest.version)}",
                    hint="sign before publishing to the Hub: publish the signed package as a new version",
                )
            return PublishResult(
                manifest, digest, self.registry.name, created=False, revision=existing.revision
            )
        raise ImmutableVersionError(
            f"{manifest.id} is already published with different content (manifest sha256 {existing.sha256})",
            where=f"{self.registry.repo_url(manifest.name)}@{tag_for(manifest.version)}",
        )
