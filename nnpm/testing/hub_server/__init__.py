"""A local stand-in for the Hugging Face Hub, for tests that must not touch the network.

`HubServer` is a real HTTP server (stdlib `ThreadingHTTPServer` on 127.0.0.1, a free
port) that speaks the part of the Hub API the `huggingface_hub` client uses to
publish and download model repos. Point the real client at it with
``HfApi(endpoint=server.endpoint)`` (or ``HF_ENDPOINT``) and nothing is mocked:
requests, headers, NDJSON commits, Link-header pagination and error codes travel
over loopback. Errors carry the Hub's ``X-Error-Code`` / ``X-Error-Message`` headers
(RepoNotFound, RevisionNotFound, EntryNotFound), so the client raises the same
exceptions it raises against the Hub.

Files travel the way huggingface.co makes them travel when Xet is not used: `preupload`
answers "lfs" for weights, binary and large files, which the client then uploads through
the LFS batch API before its commit names them; an inline copy of such a file is refused.
No Xet storage is offered (docs/hub.md, "What the test server models").

The package is split along its seams: `model` (repos, commits, who may read and
write), `uploads` (which files are LFS, the Hub's refusals), `http` (bodies, answers,
routing, pagination, injected faults), `endpoints` (the API routes; their list is in that
module's docstring) and `lfs` (the LFS batch, upload and verify endpoints).

Test hooks, all thread-safe:

- ``fail_next(pattern, status=503, times=1)``: the next `times` requests whose path
  matches the regex answer `status` (e.g. to test retries with backoff).
- ``delay_next(pattern, seconds, times=1)``: the next matching requests wait before
  answering (to test client timeouts).
- ``override(pattern, answer, method=None, times=None)``: matching requests are answered by a
  test's own callable instead (a hostile or broken server; `faults` has ready-made ones:
  oversized bodies, drips, stalls, echoed tokens, hostile listings).
- ``move_tag(repo_id, tag, revision)``: point a tag elsewhere, as a force-push would.
- ``tamper(repo_id, path, data, revision="main")``: replace a stored file's bytes in
  place, keeping the commit sha (storage corruption, or a malicious mirror).
- ``requests``: every (method, path) served, to assert that nothing touched the network.
- ``commit_files(repo_id, files, message=...)``: seed a repo without a client.
- ``page_size``: items per page of the paginated listings (models, tree).
- ``lfs_uploads`` / ``lfs_batches``: the objects the LFS upload endpoint stored, and every
  object the batch API was asked about ("upload" or "present").
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import ThreadingHTTPServer

from nnpm.testing.hub_server.endpoints import Endpoints
from nnpm.testing.hub_server.http import PAGE_SIZE, Answer, Injections
from nnpm.testing.hub_server.model import (
    DEFAULT_BRANCH,
    Commit,
    HubError,
    HubModel,
    Repo,
    front_matter,
    git_blob_sha1,
)

__all__ = ["DEFAULT_BRANCH", "Commit", "HubError", "HubServer", "Repo", "front_matter", "git_blob_sha1"]


class HubServer(HubModel):
    """An in-memory Hub on 127.0.0.1; use as a context manager or call start()/stop().

    ``HubServer(tokens={"hf_test": "alice"}, orgs={"my-org": {"alice"}})``: `tokens` maps
    tokens to users, `orgs` maps an organisation to the users who may write to it.
    ``server.endpoint`` is the URL to hand to ``HfApi(endpoint=...)``. `page_size` is how
    many items a listing returns before it paginates (the Hub's is 1000).
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, str] | None = None,
        orgs: Mapping[str, set[str] | frozenset[str] | list[str]] | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        super().__init__(tokens=tokens, orgs=orgs)
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.requests: list[tuple[str, str]] = []
        self.injections = Injections()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> HubServer:
        handler = type("_BoundHandler", (Endpoints,), {"hub": self})
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
        self.injections.fail_next(pattern, status, times)

    def delay_next(self, pattern: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` requests whose path matches regex `pattern` wait `seconds` before answering."""
        self.injections.delay_next(pattern, seconds, times)

    def override(
        self, pattern: str, answer: Answer, *, method: str | None = None, times: int | None = None
    ) -> None:
        """Requests whose path matches regex `pattern` (and `method`, if given) are answered by
        `answer(handler)` instead of their endpoint: `times` of them, or every one when None.
        `nnpm.testing.hub_server.faults` has hostile answers ready (oversized, drip, stall, ...)."""
        self.injections.override(pattern, answer, method, times)

    def move_tag(self, repo_id: str, tag: str, revision: str) -> str:
        """Point `tag` at `revision` (a branch, tag or sha), creating it if needed; returns the sha."""
        with self.lock:
            repo = self.repos[repo_id]
            commit = repo.resolve(revision)
            if commit is None:
                raise KeyError(f"{repo_id}: unknown revision {revision!r}")
            repo.tags[tag] = commit.sha
            return commit.sha

    def tamper(self, repo_id: str, path: str, data: bytes, *, revision: str = DEFAULT_BRANCH) -> None:
        """Replace a stored file's bytes without changing the commit sha (corruption on the server)."""
        with self.lock:
            commit = self.repos[repo_id].resolve(revision)
            if commit is None or path not in commit.files:
                raise KeyError(f"{repo_id}@{revision}: no file {path!r}")
            commit.files[path] = data

    def commit_files(
        self, repo_id: str, files: Mapping[str, bytes], *, message: str = "seed", delete: tuple[str, ...] = ()
    ) -> str:
        """Commit `files` (and delete the paths in `delete`) on main without HTTP, creating the repo; the sha."""
        with self.lock:
            if repo_id not in self.repos:
                self.create_repo(repo_id, private=False)
            repo = self.repos[repo_id]
            lfs = self.seed(repo, files)
            return self.commit(repo, DEFAULT_BRANCH, message, dict(files), set(delete), lfs)

    def record(self, method: str, path: str) -> None:
        """Called for every request before it is answered (injected failures included)."""
        with self.lock:
            self.requests.append((method, path))

    def paths_served(self, method: str | None = None) -> list[str]:
        with self.lock:
            return [p for m, p in self.requests if method is None or m == method]
