"""A local stand-in for the Hugging Face Hub, for tests that must not touch the network.

`HubServer` is a real HTTP server (stdlib `ThreadingHTTPServer` on 127.0.0.1, a free
port) that speaks the part of the Hub API the `huggingface_hub` client uses to
publish and download model repos. Point the real client at it with
``HfApi(endpoint=server.endpoint)`` (or ``HF_ENDPOINT``) and nothing is mocked:
requests, headers, NDJSON commits and error codes travel over loopback.

Implemented endpoints (model repos only)::

    GET    /api/whoami-v2                              who the Bearer token belongs to
    POST   /api/repos/create                           create a repo (409 when it exists)
    POST   /api/repos/delete                           delete a repo
    POST   /api/validate-yaml                          check a README's YAML front matter
    GET    /api/models                                 listing: author=, search=, filter= (tags), limit=
    GET    /api/models/{repo}[/revision/{rev}]         repo info: sha, tags, siblings, cardData
    GET    /api/models/{repo}/refs                     branches and tags with their commit shas
    GET    /api/models/{repo}/tree/{rev}[/{path}]      files (recursive=true) with size and oid
    POST   /api/models/{repo}/preupload/{rev}          always answers uploadMode "regular"
    POST   /api/models/{repo}/commit/{rev}             NDJSON: header, file (base64), deletedFile/Folder
    POST   /api/models/{repo}/tag/{rev}                create a tag (409 when it exists)
    DELETE /api/models/{repo}/tag/{tag}                delete a tag
    HEAD   /{repo}/resolve/{rev}/{path}                X-Repo-Commit, ETag, Content-Length
    GET    /{repo}/resolve/{rev}/{path}                the bytes (Range: bytes=N- supported)

Repos live in memory. A commit's sha is the sha1 of its parent, message, sequence
number and tree (path -> git blob sha1), so shas are real 40-hex ids and differ per
commit. Errors carry the Hub's ``X-Error-Code`` / ``X-Error-Message`` headers
(RepoNotFound, RevisionNotFound, EntryNotFound), so the client raises the same
exceptions it raises against the Hub.

Authentication: ``tokens`` maps a token to a user name. Writes need a valid Bearer
token (none or an unknown one: 401; a user without rights on the namespace: 403).
A user may write to its own namespace and to the organisations ``orgs`` lists it in;
a namespace absent from ``orgs`` (and not a user name) accepts any valid token.
An unknown token is refused everywhere, as the Hub does. Private repos answer 401
(anonymous) or 404 (other users) to reads, like the Hub.

Test hooks, all thread-safe:

- ``fail_next(pattern, status=503, times=1)``: the next `times` requests whose path
  matches the regex answer `status` (e.g. to test retries with backoff).
- ``delay_next(pattern, seconds, times=1)``: the next matching requests wait before
  answering (to test client timeouts).
- ``move_tag(repo_id, tag, revision)``: point a tag elsewhere, as a force-push would.
- ``tamper(repo_id, path, data, revision="main")``: replace a stored file's bytes in
  place, keeping the commit sha (storage corruption, or a malicious mirror).
- ``requests``: every (method, path) served, to assert that nothing touched the network.
- ``commit_files(repo_id, files, message=...)``: seed a repo without a client.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

DEFAULT_BRANCH = "main"
_REPO_PART = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_REPO_ID = rf"{_REPO_PART}/{_REPO_PART}"
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict[str, bytes]
    date: str


@dataclass
class Repo:
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def author(self) -> str:
        return self.repo_id.split("/", 1)[0]

    def resolve(self, revision: str) -> Commit | None:
        """A branch, a tag or a full commit sha -> its commit."""
        sha = self.branches.get(revision) or self.tags.get(revision)
        if sha is None and _SHA1.match(revision):
            sha = revision
        return self.commits.get(sha) if sha else None


class _HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.extra = extra


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


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


class HubServer:
    """An in-memory Hub on 127.0.0.1; use as a context manager or call start()/stop().

    ``HubServer(tokens={"hf_test": "alice"}, orgs={"my-org": {"alice"}})``: `tokens` maps
    tokens to users, `orgs` maps an organisation to the users who may write to it.
    ``server.endpoint`` is the URL to hand to ``HfApi(endpoint=...)``.
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, str] | None = None,
        orgs: Mapping[str, set[str] | frozenset[str] | list[str]] | None = None,
    ) -> None:
        self.tokens = dict(tokens or {})
        self.orgs = {name: set(members) for name, members in (orgs or {}).items()}
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self._failures: list[list[Any]] = []  # [compiled pattern, status, remaining]
        self._delays: list[list[Any]] = []  # [compiled pattern, seconds, remaining]
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> HubServer:
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="nnpm-hub-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`, the value for HfApi(endpoint=...) or HF_ENDPOINT."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; use `with HubServer() as server:`")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- test hooks --------------------------------------------------------------------------

    def fail_next(self, pattern: str, *, status: int = 503, times: int = 1) -> None:
        """The next `times` requests whose path matches regex `pattern` answer `status`."""
        with self._lock:
            self._failures.append([re.compile(pattern), status, times])

    def delay_next(self, pattern: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` requests whose path matches regex `pattern` wait `seconds` before answering."""
        with self._lock:
            self._delays.append([re.compile(pattern), seconds, times])

    def move_tag(self, repo_id: str, tag: str, revision: str) -> str:
        """Point `tag` at `revision` (a branch, tag or sha), creating it if needed; returns the sha."""
        with self._lock:
            repo = self.repos[repo_id]
            commit = repo.resolve(revision)
            if commit is None:
                raise KeyError(f"{repo_id}: unknown revision {revision!r}")
            repo.tags[tag] = commit.sha
            return commit.sha

    def tamper(self, repo_id: str, path: str, data: bytes, *, revision: str = DEFAULT_BRANCH) -> None:
        """Replace a stored file's bytes without changing the commit sha (corruption on the server)."""
        with self._lock:
            commit = self.repos[repo_id].resolve(revision)
            if commit is None or path not in commit.files:
                raise KeyError(f"{repo_id}@{revision}: no file {path!r}")
            commit.files[path] = data

    def commit_files(self, repo_id: str, files: Mapping[str, bytes], *, message: str = "seed") -> str:
        """Create the repo if needed and commit `files` on main, without going through HTTP; returns the sha."""
        with self._lock:
            if repo_id not in self.repos:
                self._create_repo(repo_id, private=False)
            return self._commit(self.repos[repo_id], DEFAULT_BRANCH, message, dict(files), set())

    def paths_served(self, method: str | None = None) -> list[str]:
        with self._lock:
            return [p for m, p in self.requests if method is None or m == method]

    # --- state (called with the lock held) -------------------------------------------------

    def _create_repo(self, repo_id: str, *, private: bool) -> Repo:
        repo = Repo(repo_id=repo_id, private=private, created_at=_now())
        self.repos[repo_id] = repo
        self._commit(
            repo, DEFAULT_BRANCH, "initial commit", {".gitattributes": b"*.safetensors filter=lfs\n"}, set()
        )
        return repo

    def _commit(
        self, repo: Repo, branch: str, message: str, added: dict[str, bytes], deleted: set[str]
    ) -> str:
        parent_sha = repo.branches.get(branch)
        files = dict(repo.commits[parent_sha].files) if parent_sha else {}
        for path in deleted:
            files = {p: d for p, d in files.items() if p != path and not p.startswith(path.rstrip("/") + "/")}
        files.update(added)
        tree = {p: git_blob_sha1(d) for p, d in sorted(files.items())}
        seq = next(self._seq)
        sha = hashlib.sha1(json.dumps([parent_sha, message, seq, tree]).encode()).hexdigest()
        repo.commits[sha] = Commit(sha=sha, parent=parent_sha, message=message, files=files, date=_now())
        repo.branches[branch] = sha
        return sha

    def _take_delay(self, path: str) -> float:
        with self._lock:
            for delay in self._delays:
                pattern, seconds, remaining = delay
                if remaining > 0 and pattern.search(path):
                    delay[2] -= 1
                    return seconds
        return 0.0

    def _take_failure(self, path: str) -> int | None:
        with self._lock:
            for failure in self._failures:
                pattern, status, remaining = failure
                if remaining > 0 and pattern.search(path):
                    failure[2] -= 1
                    return status
        return None

    def _user(self, headers: Mapping[str, str]) -> str | None:
        """The user behind the Bearer token; None when anonymous; 401 for an unknown token."""
        auth = headers.get("Authorization") or ""
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            raise _HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def _may_write(self, user: str | None, namespace: str) -> None:
        if user is None:
            raise _HubError(401, "You must be authenticated to access this resource")
        if namespace == user:
            return
        if namespace in self.orgs:
            if user in self.orgs[namespace]:
                return
        elif namespace not in self.tokens.values():
            return
        raise _HubError(403, f'You don\'t have the rights to write to the namespace "{namespace}"')

    def _readable(self, user: str | None, repo_id: str) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is not None and repo.private:
            try:
                self._may_write(user, repo.author)
            except _HubError:
                repo = None
                if user is None:
                    raise _HubError(401, "Repository not found", "RepoNotFound") from None
        if repo is None:
            raise _HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _info(self, repo: Repo, commit: Commit, *, siblings: bool) -> dict[str, Any]:
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
            info["cardData"] = {
                k: v
                for k, v in meta.items()
                if k in {"library_name", "license", "tags", "base_model", "datasets"}
            }
        return info


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"
    server_version = "nnpm-hub-server/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # --- plumbing ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _body(self) -> bytes:
        return self._raw_body

    def _json_body(self) -> Any:
        try:
            return json.loads(self._body() or b"{}")
        except ValueError:
            raise _HubError(400, "the request body is not JSON") from None

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, doc: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(doc).encode(), headers)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        hub = self.hub
        with hub._lock:
            hub.requests.append((method, path))
        self._raw_body = self._read_body()
        delay = hub._take_delay(path)
        if delay:
            time.sleep(delay)
        try:
            status = hub._take_failure(path)
            if status is not None:
                raise _HubError(status, f"injected failure {status}")
            route, args = self._route(method, url.path)
            if route is None:
                raise _HubError(404, f"no route for {method} {path}")
            route(query, *args)
        except _HubError as err:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._send_json(err.status, {"error": err.message, **err.extra}, headers)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def _route(self, method: str, raw_path: str):
        # Match on the raw (quoted) path so that a quoted revision ("refs%2Fpr%2F1") stays one segment.
        routes = [
            ("GET", r"/api/whoami-v2", self._whoami),
            ("POST", r"/api/repos/create", self._create),
            ("POST", r"/api/repos/delete", self._delete_repo),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("GET", r"/api/models", self._list_models),
            ("GET", rf"/api/models/({_REPO_ID})/refs", self._refs),
            ("GET", rf"/api/models/({_REPO_ID})/tree/([^/]+)(/.*)?", self._tree),
            ("POST", rf"/api/models/({_REPO_ID})/preupload/([^/]+)", self._preupload),
            ("POST", rf"/api/models/({_REPO_ID})/commit/([^/]+)", self._commit),
            ("POST", rf"/api/models/({_REPO_ID})/tag/([^/]+)", self._create_tag),
            ("DELETE", rf"/api/models/({_REPO_ID})/tag/([^/]+)", self._delete_tag),
            ("GET", rf"/api/models/({_REPO_ID})/revision/([^/]+)", self._model_info),
            ("GET", rf"/api/models/({_REPO_ID})", self._model_info),
            ("GET", rf"/({_REPO_ID})/resolve/([^/]+)/(.+)", self._resolve),
            ("HEAD", rf"/({_REPO_ID})/resolve/([^/]+)/(.+)", self._resolve),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, raw_path)
            if verb == method and match:
                return handler, [unquote(g) if g else g for g in match.groups()]
        return None, []

    @property
    def _user(self) -> str | None:
        return self.hub._user(self.headers)

    # --- endpoints ---------------------------------------------------------------------------

    def _whoami(self, query) -> None:
        user = self._user
        if user is None:
            raise _HubError(401, "You must be authenticated to access this resource")
        orgs = [
            {"name": org, "type": "org"} for org, members in sorted(self.hub.orgs.items()) if user in members
        ]
        self._send_json(
            200,
            {
                "type": "user",
                "name": user,
                "orgs": orgs,
                "auth": {"type": "access_token", "accessToken": {"role": "write"}},
            },
        )

    def _create(self, query) -> None:
        doc = self._json_body()
        user = self._user
        name = doc.get("name") or ""
        namespace = doc.get("organization") or user
        if doc.get("type") not in (None, "model"):
            raise _HubError(400, "this test server only hosts model repos")
        if not namespace or not re.fullmatch(_REPO_PART, name) or len(name) > 96:
            raise _HubError(400, f"invalid repo name {name!r}")
        self.hub._may_write(user, namespace)
        repo_id = f"{namespace}/{name}"
        url = f"{self.hub.endpoint}/{repo_id}"
        with self.hub._lock:
            if repo_id in self.hub.repos:
                raise _HubError(409, "You already created this model repo", url=url)
            private = bool(doc.get("private")) or doc.get("visibility") == "private"
            self.hub._create_repo(repo_id, private=private)
        self._send_json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self, query) -> None:
        doc = self._json_body()
        user = self._user
        repo_id = f"{doc.get('organization') or user}/{doc.get('name')}"
        self.hub._may_write(user, repo_id.split("/")[0])
        with self.hub._lock:
            if self.hub.repos.pop(repo_id, None) is None:
                raise _HubError(404, "Repository not found", "RepoNotFound")
        self._send_json(200, {})

    def _validate_yaml(self, query) -> None:
        doc = self._json_body()
        self._user  # noqa: B018 - an unknown token is refused, as on the Hub
        try:
            front_matter(doc.get("content") or "")
        except ValueError as exc:
            self._send_json(400, {"errors": [{"message": str(exc)}], "warnings": []})
            return
        self._send_json(200, {"errors": [], "warnings": []})

    def _list_models(self, query) -> None:
        user = self._user
        author = (query.get("author") or [None])[0]
        search = ((query.get("search") or [""])[0]).lower()
        filters = query.get("filter") or []
        limit = int((query.get("limit") or ["0"])[0] or 0)
        out = []
        with self.hub._lock:
            for repo_id, repo in sorted(self.hub.repos.items()):
                try:
                    self.hub._readable(user, repo_id)
                except _HubError:
                    continue
                if author and repo.author != author:
                    continue
                if search and search not in repo_id.lower():
                    continue
                info = self.hub._info(repo, repo.commits[repo.branches[DEFAULT_BRANCH]], siblings=False)
                if any(f not in info["tags"] and f != info["library_name"] for f in filters):
                    continue
                out.append(info)
        self._send_json(200, out[:limit] if limit else out)

    def _repo_commit(self, repo_id: str, revision: str) -> tuple[Repo, Commit]:
        with self.hub._lock:
            repo = self.hub._readable(self._user, repo_id)
            commit = repo.resolve(revision)
        if commit is None:
            raise _HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo, commit

    def _model_info(self, query, repo_id: str, revision: str = DEFAULT_BRANCH) -> None:
        repo, commit = self._repo_commit(repo_id, revision)
        self._send_json(200, self.hub._info(repo, commit, siblings=True))

    def _refs(self, query, repo_id: str) -> None:
        with self.hub._lock:
            repo = self.hub._readable(self._user, repo_id)

            def refs(kind: str, table: dict[str, str]) -> list[dict[str, str]]:
                return [
                    {"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": s}
                    for n, s in sorted(table.items())
                ]

            doc = {
                "branches": refs("heads", repo.branches),
                "converts": [],
                "tags": refs("tags", repo.tags),
                "pullRequests": [],
            }
        self._send_json(200, doc)

    def _tree(self, query, repo_id: str, revision: str, sub: str | None) -> None:
        _, commit = self._repo_commit(repo_id, revision)
        prefix = (sub or "").strip("/")
        recursive = (query.get("recursive") or ["false"])[0].lower() in {"1", "true"}
        entries: dict[str, dict[str, Any]] = {}
        for path, data in sorted(commit.files.items()):
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1 :] if prefix else path
            if not recursive and "/" in rest:
                folder = f"{prefix}/{rest.split('/')[0]}" if prefix else rest.split("/")[0]
                entries.setdefault(folder, {"type": "directory", "oid": "0" * 40, "size": 0, "path": folder})
                continue
            if recursive:
                parts = path.split("/")
                for i in range(len(prefix.split("/")) if prefix else 0, len(parts) - 1):
                    folder = "/".join(parts[: i + 1])
                    entries.setdefault(
                        folder, {"type": "directory", "oid": "0" * 40, "size": 0, "path": folder}
                    )
            entries[path] = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}
        if prefix and not entries:
            raise _HubError(404, f"{prefix} does not exist on {revision}", "EntryNotFound")
        self._send_json(200, list(entries.values()))

    def _writable(self, repo_id: str) -> Repo:
        user = self._user
        with self.hub._lock:
            repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and user is None):
            if user is None:
                raise _HubError(401, "You must be authenticated to access this resource")
            raise _HubError(404, "Repository not found", "RepoNotFound")
        self.hub._may_write(user, repo.author)
        return repo

    def _preupload(self, query, repo_id: str, revision: str) -> None:
        doc = self._json_body()
        repo = self._writable(repo_id)
        with self.hub._lock:
            commit = repo.resolve(revision)
        files = []
        for item in doc.get("files", []):
            existing = commit.files.get(item["path"]) if commit else None
            files.append(
                {
                    "path": item["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_sha1(existing) if existing is not None else None,
                }
            )
        self._send_json(200, {"files": files, "commitOid": commit.sha if commit else None})

    def _commit(self, query, repo_id: str, revision: str) -> None:
        raw = self._body()
        repo = self._writable(repo_id)
        if query.get("create_pr"):
            raise _HubError(400, "this test server does not support pull requests")
        header: dict[str, Any] = {}
        added: dict[str, bytes] = {}
        deleted: set[str] = set()
        try:
            for line in raw.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "header":
                    header = value
                elif key == "file":
                    if value.get("encoding") != "base64":
                        raise _HubError(400, "file content must be base64-encoded")
                    added[value["path"]] = base64.b64decode(value["content"], validate=True)
                elif key in {"deletedFile", "deletedFolder"}:
                    deleted.add(value["path"])
                elif key == "lfsFile":
                    raise _HubError(
                        400, "this test server stores regular files only (preupload answers 'regular')"
                    )
                else:
                    raise _HubError(400, f"unknown commit operation {key!r}")
        except (ValueError, KeyError, TypeError):
            raise _HubError(400, "malformed NDJSON commit payload") from None
        if not header.get("summary"):
            raise _HubError(400, "the commit header needs a summary")
        for path in added:
            if path.startswith("/") or ".." in path.split("/"):
                raise _HubError(400, f"invalid path {path!r}")
        with self.hub._lock:
            if revision not in repo.branches:
                raise _HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            parent = header.get("parentCommit")
            if parent and parent != repo.branches[revision]:
                raise _HubError(412, "A commit has happened since. Please refresh and try again.")
            sha = self.hub._commit(repo, revision, header["summary"], added, deleted)
        url = f"{self.hub.endpoint}/{repo_id}/commit/{sha}"
        self._send_json(200, {"success": True, "commitOid": sha, "commitUrl": url, "pullRequestUrl": None})

    def _create_tag(self, query, repo_id: str, revision: str) -> None:
        doc = self._json_body()
        repo = self._writable(repo_id)
        tag = doc.get("tag") or ""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", tag):
            raise _HubError(400, f"invalid tag name {tag!r}")
        with self.hub._lock:
            commit = repo.resolve(revision)
            if commit is None:
                raise _HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            if tag in repo.tags:
                raise _HubError(409, f"Tag {tag} already exists")
            repo.tags[tag] = commit.sha
        self._send_json(200, {})

    def _delete_tag(self, query, repo_id: str, tag: str) -> None:
        repo = self._writable(repo_id)
        with self.hub._lock:
            if repo.tags.pop(tag, None) is None:
                raise _HubError(404, f"Invalid rev id: {tag}", "RevisionNotFound")
        self._send_json(200, {})

    def _resolve(self, query, repo_id: str, revision: str, path: str) -> None:
        _, commit = self._repo_commit(repo_id, revision)
        data = commit.files.get(path)
        if data is None:
            err = _HubError(404, "Entry not found", "EntryNotFound")
            self._send_json(
                404,
                {"error": err.message},
                {
                    "X-Error-Code": "EntryNotFound",
                    "X-Error-Message": err.message,
                    "X-Repo-Commit": commit.sha,
                },
            )
            return
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{git_blob_sha1(data)}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
        }
        status = 200
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and self.command == "GET":
            start = int(match.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            data, status = data[start:], 206
        self._send(status, data, headers, content_type="application/octet-stream")
