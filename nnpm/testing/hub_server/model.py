"""The repositories a `HubServer` holds, and who may see and change them: no HTTP in here.

Repos live in memory. A commit's sha is the sha1 of its parent, message, sequence
number and tree (path -> git blob sha1), so shas are real 40-hex ids and differ per
commit. Every method that reads or changes state expects `HubModel.lock` to be held
by the caller, or takes it itself where it says so; HTTP threads call in concurrently.

Authentication follows the Hub: `tokens` maps a token to a user; writes need a valid
Bearer token (none or an unknown one: 401; a user without rights on the namespace:
403). A user may write to its own namespace and to the organisations `orgs` lists it
in; a namespace absent from `orgs` (and not a user name) accepts any valid token. An
unknown token is refused everywhere. Private repos answer 401 (anonymous) or 404
(other users) to reads.

Files in LFS (uploads.py decides which) keep their bytes in the commit like any file, so
downloads and `tamper` treat them alike; `Commit.lfs` records their LFS oid (sha256), and
`Repo.lfs_objects` is the repo's LFS storage, filled by the upload endpoint (lfs.py) before a
commit may point at an object.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from nnpm.testing.hub_server.uploads import DEFAULT_GITATTRIBUTES, sha256_hex, upload_mode

DEFAULT_BRANCH = "main"
REPO_PART = r"[A-Za-z0-9][A-Za-z0-9._-]*"
REPO_ID = rf"{REPO_PART}/{REPO_PART}"
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
#: the card keys the Hub copies into a model's `cardData`
_CARD_KEYS = frozenset({"library_name", "license", "tags", "base_model", "datasets"})


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def now() -> str:
    """A timestamp in the Hub's format (the client parses createdAt / lastModified)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class HubError(Exception):
    """An error answer: status, the Hub's X-Error-Message and X-Error-Code, extra JSON fields.

    The client picks its exception class (RepositoryNotFoundError, ...) from the code.
    """

    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.extra = extra


def repo_not_found() -> HubError:
    return HubError(404, "Repository not found", "RepoNotFound")


def revision_not_found(revision: str) -> HubError:
    return HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict[str, bytes]
    date: str
    #: path -> LFS oid (sha256) of the files stored in LFS; the others are regular git blobs
    lfs: dict[str, str] = field(default_factory=dict)


class LfsUpload(NamedTuple):
    """One object the upload endpoint accepted (`HubServer.lfs_uploads`)."""

    repo_id: str
    oid: str
    size: int


@dataclass
class Repo:
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: the repo's LFS storage: sha256 oid -> bytes, as uploaded through the LFS batch API
    lfs_objects: dict[str, bytes] = field(default_factory=dict)

    @property
    def author(self) -> str:
        return self.repo_id.split("/", 1)[0]

    def resolve(self, revision: str) -> Commit | None:
        """A branch, a tag or a full commit sha -> its commit."""
        sha = self.branches.get(revision) or self.tags.get(revision)
        if sha is None and _SHA1.match(revision):
            sha = revision
        return self.commits.get(sha) if sha else None

    def head(self) -> Commit:
        return self.commits[self.branches[DEFAULT_BRANCH]]


def front_matter(text: str) -> dict[str, Any]:
    """A tiny reader for the YAML front matter nnpm writes: `key: scalar` and `key:` + `- item` lists.

    Enough to index `library_name` and `tags` the way the Hub does; nested blocks are skipped.
    Raises ValueError when the block is opened but never closed.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise ValueError("the YAML front matter opened with '---' is never closed") from None
    meta: dict[str, Any] = {}
    key = None
    for line in lines[1:end]:
        if not line.strip() or line.startswith(" "):
            continue
        if line.startswith("- ") and key is not None:
            if isinstance(meta.get(key), list):
                meta[key].append(_scalar(line[2:]))
            continue
        if ":" not in line:
            raise ValueError(f"not a YAML mapping line: {line!r}")
        key, _, value = line.partition(":")
        key = key.strip()
        meta[key] = _scalar(value) if value.strip() else []
    return meta


def _scalar(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text.strip("'\"")


class HubModel:
    """Users, organisations and repos, with the Hub's rules for reading and writing them."""

    def __init__(
        self,
        *,
        tokens: Mapping[str, str] | None = None,
        orgs: Mapping[str, set[str] | frozenset[str] | list[str]] | None = None,
    ) -> None:
        self.tokens = dict(tokens or {})
        self.orgs = {name: set(members) for name, members in (orgs or {}).items()}
        self.repos: dict[str, Repo] = {}
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        #: every LFS object the upload endpoint accepted, in order
        self.lfs_uploads: list[LfsUpload] = []
        #: (repo_id, oid, "upload" or "present") for every object the LFS batch API was asked about
        self.lfs_batches: list[tuple[str, str, str]] = []
        #: upload URL ticket -> (repo_id, oid, size) the batch API granted (lfs.py)
        self.lfs_tickets: dict[str, tuple[str, str, int]] = {}

    # --- changing state (lock held) --------------------------------------------------------

    def create_repo(self, repo_id: str, *, private: bool) -> Repo:
        """A new repo whose main branch holds the .gitattributes the Hub starts every repo with."""
        repo = Repo(repo_id=repo_id, private=private, created_at=now())
        self.repos[repo_id] = repo
        gitattributes = {".gitattributes": DEFAULT_GITATTRIBUTES}
        self.commit(repo, DEFAULT_BRANCH, "initial commit", gitattributes, set())
        return repo

    def commit(
        self,
        repo: Repo,
        branch: str,
        message: str,
        added: dict[str, bytes],
        deleted: set[str],
        lfs: Mapping[str, str] | None = None,
    ) -> str:
        """Commit on `branch`: the parent's tree minus `deleted` (files or folders) plus `added`;
        `lfs` maps the added paths stored in LFS to their oid (the others are regular blobs)."""
        parent_sha = repo.branches.get(branch)
        parent = repo.commits[parent_sha] if parent_sha else None
        files = dict(parent.files) if parent else {}
        pointers = dict(parent.lfs) if parent else {}
        for path in deleted:
            folder = path.rstrip("/") + "/"
            files = {p: d for p, d in files.items() if p != path and not p.startswith(folder)}
        files.update(added)
        pointers = {p: o for p, o in pointers.items() if p in files and p not in added}
        pointers.update(lfs or {})
        tree = {p: pointers.get(p) or git_blob_sha1(d) for p, d in sorted(files.items())}
        sha = hashlib.sha1(json.dumps([parent_sha, message, next(self._seq), tree]).encode()).hexdigest()
        repo.commits[sha] = Commit(
            sha=sha, parent=parent_sha, message=message, files=files, date=now(), lfs=pointers
        )
        repo.branches[branch] = sha
        return sha

    def seed(self, repo: Repo, files: Mapping[str, bytes]) -> dict[str, str]:
        """Store in `repo`'s LFS what the Hub would put there (test seeding); path -> oid of those files."""
        head = repo.commits.get(repo.branches.get(DEFAULT_BRANCH, ""))
        gitattributes = files.get(".gitattributes") or (head.files.get(".gitattributes") if head else None)
        lfs = {}
        for path, data in files.items():
            if data and upload_mode(path, len(data), data[:512], gitattributes) == "lfs":
                lfs[path] = sha256_hex(data)
                repo.lfs_objects[lfs[path]] = data
        return lfs

    # --- who may do what -------------------------------------------------------------------

    def user(self, headers: Mapping[str, str]) -> str | None:
        """The user behind the Bearer token; None when anonymous; 401 for an unknown token."""
        auth = headers.get("Authorization") or ""
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def may_write(self, user: str | None, namespace: str) -> None:
        """Raise 401 (anonymous) or 403 unless `user` may write to `namespace`."""
        if user is None:
            raise HubError(401, "You must be authenticated to access this resource")
        if namespace == user:
            return
        if namespace in self.orgs:
            if user in self.orgs[namespace]:
                return
        elif namespace not in self.tokens.values():
            return
        raise HubError(403, f'You don\'t have the rights to write to the namespace "{namespace}"')

    def readable(self, user: str | None, repo_id: str) -> Repo:
        """The repo if `user` may read it; a private repo is "not found" to others (401 when anonymous)."""
        repo = self.repos.get(repo_id)
        if repo is not None and repo.private:
            try:
                self.may_write(user, repo.author)
            except HubError:
                if user is None:
                    raise HubError(401, "Repository not found", "RepoNotFound") from None
                repo = None
        if repo is None:
            raise repo_not_found()
        return repo

    def writable(self, user: str | None, repo_id: str) -> Repo:
        """The repo if `user` may write to it (takes the lock)."""
        with self.lock:
            repo = self.repos.get(repo_id)
        if repo is None or (repo.private and user is None):
            if user is None:
                raise HubError(401, "You must be authenticated to access this resource")
            raise repo_not_found()
        self.may_write(user, repo.author)
        return repo

    def commit_at(self, user: str | None, repo_id: str, revision: str) -> tuple[Repo, Commit]:
        """The readable repo and the commit `revision` names (takes the lock); 404 RevisionNotFound."""
        with self.lock:
            repo = self.readable(user, repo_id)
            commit = repo.resolve(revision)
        if commit is None:
            raise revision_not_found(revision)
        return repo, commit

    # --- what the API shows ----------------------------------------------------------------

    def info(self, repo: Repo, commit: Commit, *, siblings: bool) -> dict[str, Any]:
        """A model's JSON as /api/models lists it; with `siblings`, as /api/models/{repo} shows it."""
        readme = commit.files.get("README.md", b"").decode("utf-8", "replace")
        try:
            meta = front_matter(readme)
        except ValueError:
            meta = {}
        tags = (
            [t for t in meta.get("tags", []) if isinstance(t, str)]
            if isinstance(meta.get("tags"), list)
            else []
        )
        if isinstance(meta.get("license"), str):
            tags.append(f"license:{meta['license']}")
        info: dict[str, Any] = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.author,
            "sha": commit.sha,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": tags,
            "library_name": meta.get("library_name"),
            "createdAt": repo.created_at,
            "lastModified": commit.date,
        }
        if siblings:
            info["siblings"] = [{"rfilename": p, "size": len(d)} for p, d in sorted(commit.files.items())]
            info["cardData"] = {k: v for k, v in meta.items() if k in _CARD_KEYS}
        return info
