"""The HTTP plumbing of `HubServer`: request bodies, JSON answers, routing, pagination, injected faults.

Injected faults (`Injections`) come first: a pending failure answers its status, a delay waits,
and an override hands the request to a test's own `Answer` (faults.py), which may answer
anything at all (more bytes than the file holds, a drip, a stall, a hostile listing) or add
headers and call `answer_normally()`. With none pending every request is routed as usual.

Nothing here knows what a repo is: `HubHandler` subclasses (endpoints.py) list their
routes as (method, path regex, handler method name) and raise `HubError` to answer
with the Hub's error headers, so the real client raises the exceptions it raises
against huggingface.co.

Pagination works as on the Hub: a listing longer than a page answers the first page
with a `Link: <url>; rel="next"` header whose URL carries a `cursor`, and the client
(`huggingface_hub.utils.paginate`) follows it. A client that ignored the header would
see a short list, so tests with a small `page_size` prove nothing is truncated.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from nnpm.testing.hub_server.model import HubError

if TYPE_CHECKING:
    from nnpm.testing.hub_server import HubServer

#: items per page of a paginated listing, as on the Hub
PAGE_SIZE = 1000


#: how a test answers a request itself (faults.py has ready-made ones); it gets the request's handler
Answer = Callable[["HubHandler"], None]


class Injections:
    """Faults a test asks for: the next matching requests fail with a status, answer late, or are
    answered by the test's own `Answer` instead of the endpoint (a hostile or broken server)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[list[Any]] = []  # [compiled pattern, status, remaining]
        self._delays: list[list[Any]] = []  # [compiled pattern, seconds, remaining]
        self._overrides: list[list[Any]] = []  # [compiled pattern, (method, answer), remaining]

    def override(self, pattern: str, answer: Answer, method: str | None, times: int | None) -> None:
        with self._lock:
            self._overrides.append(
                [re.compile(pattern), (method, answer), float("inf") if times is None else times]
            )

    def take_override(self, method: str, path: str) -> Answer | None:
        """The answer a test gave for `method path`, consuming one use; None: answer normally."""
        with self._lock:
            for item in self._overrides:
                pattern, (verb, answer), remaining = item
                if remaining > 0 and verb in (None, method) and pattern.search(path):
                    item[2] -= 1
                    return answer
        return None

    def fail_next(self, pattern: str, status: int, times: int) -> None:
        with self._lock:
            self._failures.append([re.compile(pattern), status, times])

    def delay_next(self, pattern: str, seconds: float, times: int) -> None:
        with self._lock:
            self._delays.append([re.compile(pattern), seconds, times])

    def take_failure(self, path: str) -> int | None:
        """The status to fail `path` with, consuming one use; None when no failure is pending."""
        return self._take(self._failures, path)

    def take_delay(self, path: str) -> float:
        """How long to wait before answering `path`, consuming one use; 0 when no delay is pending."""
        return self._take(self._delays, path) or 0.0

    def _take(self, pending: list[list[Any]], path: str) -> Any:
        with self._lock:
            for item in pending:
                pattern, value, remaining = item
                if remaining > 0 and pattern.search(path):
                    item[2] -= 1
                    return value
        return None


class HubHandler(BaseHTTPRequestHandler):
    """One request: read the body, apply injected faults, route, answer JSON or bytes."""

    hub: HubServer
    protocol_version = "HTTP/1.1"
    server_version = "nnpm-hub-server/1"
    #: (method, regex on the quoted path, name of the handler method); the groups become arguments
    ROUTES: ClassVar[Sequence[tuple[str, str, str]]] = ()
    #: headers added to this request's answer (an `Answer` sets them, then calls `answer_normally`)
    extra_headers: dict[str, str]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # the LFS upload endpoint (lfs.py)
        self._dispatch("PUT")

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    # --- reading the request ---------------------------------------------------------------

    def _read_body(self) -> bytes:
        """The whole body, Content-Length or chunked (the client streams commits chunked)."""
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

    def body(self) -> bytes:
        return self._raw_body

    def json_body(self) -> Any:
        try:
            return json.loads(self.body() or b"{}")
        except ValueError:
            raise HubError(400, "the request body is not JSON") from None

    @property
    def user(self) -> str | None:
        """Who the Bearer token belongs to; None when anonymous; 401 for an unknown token."""
        return self.hub.user(self.headers)

    # --- answering -------------------------------------------------------------------------

    def send(
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
        for key, value in {**(headers or {}), **self.extra_headers}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, doc: Any, headers: Mapping[str, str] | None = None) -> None:
        self.send(status, json.dumps(doc).encode(), headers)

    def send_error_json(self, err: HubError, headers: Mapping[str, str] | None = None) -> None:
        """An error answer with the Hub's headers, which the client maps to its exception classes."""
        extra = {"X-Error-Message": err.message, **({"X-Error-Code": err.code} if err.code else {})}
        self.send_json(err.status, {"error": err.message, **err.extra}, {**extra, **(headers or {})})

    def send_page(self, items: list[Any], query: Mapping[str, list[str]], *, limit: int = 0) -> None:
        """One page of `items` from the request's `cursor`, with a Link to the next page if any."""
        size = min(limit, self.hub.page_size) if limit else self.hub.page_size
        start = int((query.get("cursor") or ["0"])[0] or 0)
        page, headers = items[start : start + size], {}
        if start + size < len(items):
            params = {k: v for k, v in query.items() if k != "cursor"} | {"cursor": [str(start + size)]}
            url = f"{self.hub.endpoint}{urlsplit(self.path).path}?{urlencode(params, doseq=True)}"
            headers["Link"] = f'<{url}>; rel="next"'
        self.send_json(200, page, headers)

    # --- routing ---------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        self.hub.record(method, path)
        self._raw_body = self._read_body()
        self.extra_headers = {}
        delay = self.hub.injections.take_delay(path)
        if delay:
            time.sleep(delay)
        try:
            status = self.hub.injections.take_failure(path)
            if status is not None:
                raise HubError(status, f"injected failure {status}")
            answer = self.hub.injections.take_override(method, path)
            if answer is not None:
                answer(self)
                return
            self.answer_normally()
        except HubError as err:
            self.send_error_json(err)

    def answer_normally(self) -> None:
        """Route the request to its endpoint (an `Answer` may call this, e.g. after adding headers)."""
        url = urlsplit(self.path)
        handler, args = self._route(self.command, url.path)
        handler(parse_qs(url.query), *args)

    def _route(self, method: str, raw_path: str):
        """The handler and its arguments; match the raw (quoted) path so "refs%2Fpr%2F1" stays one segment."""
        for verb, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, raw_path)
            if verb == method and match:
                return getattr(self, name), [unquote(g) if g else g for g in match.groups()]
        raise HubError(404, f"no route for {method} {unquote(raw_path)}")
