"""Ready-made hostile answers for `HubServer.override(pattern, answer)`: a broken or malicious Hub.

Each function returns an `Answer`, a callable that gets the request's handler and answers it
itself, so one server can be normal for every request but the few a test points at::

    server.override(r"/resolve/[^/]+/weights\\.safetensors$", faults.oversized(400 * 2**20))
    server.override(r"/resolve/", faults.drip(interval=0.5), method="GET")
    server.override(r"/tree/", faults.json_answer([{"type": "file", "path": "../x", "oid": "0" * 40, "size": 1}]))

- `oversized(size)`: 200 with `size` zero bytes, more than any manifest declares;
- `drip(interval)`: a long body announced in full, one byte every `interval` seconds;
- `stall(seconds)`: the headers and a few bytes, then nothing for `seconds`;
- `error(status, message, echo_token=True)`: an error whose message repeats the request's token;
- `warning(message, echo_token=True)`: the normal answer plus an `X-HF-Warning` header (which the
  client logs) repeating the token;
- `json_answer(doc)`: a fixed JSON document (a tree listing with a `..` path).

A test that gives up on an answer (a timeout) closes the connection; the answer then stops at its
next write.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from nnpm.testing.hub_server.model import HubError

if TYPE_CHECKING:
    from nnpm.testing.hub_server.http import Answer, HubHandler

_CHUNK = 64 * 1024


def _start(
    handler: HubHandler, status: int, length: int | None, headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/octet-stream")
    if length is not None:
        handler.send_header("Content-Length", str(length))
    handler.send_header("Connection", "close")
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.close_connection = True


def _write(handler: HubHandler, data: bytes) -> bool:
    """Write and flush; False once the client has gone away."""
    try:
        handler.wfile.write(data)
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def _token(handler: HubHandler) -> str:
    return handler.headers.get("Authorization", "").removeprefix("Bearer ").strip()


def oversized(size: int, *, announce: bool = True) -> Answer:
    """200 with `size` zero bytes; `announce=False` sends no Content-Length (the body ends at close)."""

    def answer(handler: HubHandler) -> None:
        _start(handler, 200, size if announce else None)
        left = size
        while left > 0 and _write(handler, b"\0" * min(_CHUNK, left)):
            left -= _CHUNK

    return answer


def drip(interval: float, *, size: int = 1 << 20) -> Answer:
    """Announce `size` bytes, then send one every `interval` seconds until done or the client leaves."""

    def answer(handler: HubHandler) -> None:
        _start(handler, 200, size)
        for _ in range(size):
            if not _write(handler, b"\0"):
                return
            time.sleep(interval)

    return answer


def stall(seconds: float, *, size: int = 1 << 20, sent: int = 16) -> Answer:
    """Announce `size` bytes, send `sent` of them, then say nothing for `seconds`."""

    def answer(handler: HubHandler) -> None:
        _start(handler, 200, size)
        if _write(handler, b"\0" * sent):
            time.sleep(seconds)

    return answer


def error(status: int, message: str = "server error", *, echo_token: bool = False) -> Answer:
    """An error answer with the Hub's headers; `echo_token` appends the request's token to the message."""

    def answer(handler: HubHandler) -> None:
        text = f"{message} (token {_token(handler)})" if echo_token else message
        handler.send_error_json(HubError(status, text))

    return answer


def warning(message: str, *, topic: str = "nnpm-test", echo_token: bool = False) -> Answer:
    """The normal answer plus `X-HF-Warning: topic; message` (the client logs it as a warning)."""

    def answer(handler: HubHandler) -> None:
        text = f"{message} (token {_token(handler)})" if echo_token else message
        handler.extra_headers["X-HF-Warning"] = f"{topic}; {text}"
        handler.answer_normally()

    return answer


def json_answer(doc: object, *, status: int = 200) -> Answer:
    """A fixed JSON document, whatever was asked."""

    def answer(handler: HubHandler) -> None:
        handler.send(status, json.dumps(doc).encode())

    return answer
