"""Downloads from the Hub that a hostile or broken server cannot stretch: bounded in bytes and in time.

`huggingface_hub.hf_hub_download` trusts the server: it writes whatever the body holds (400 MiB
for a file the manifest says is 26 KB), has no overall deadline (a server that drips one byte
every 2 s never trips its per-read timeout), and hides a 5xx behind LocalEntryNotFoundError after
its own retries. nnpm already knows each file's size from the manifest, so it fetches with the
client's own pieces (`hf_hub_url`, `build_hf_headers`, the shared `get_session()`,
`hf_raise_for_status` for the typed errors) and

- reads at most `limit` bytes (the size `[files]` declares; 1 MiB for nnpm.toml) and stops the
  moment the server sends more, or announces more in Content-Length;
- gives each file a deadline of `base + size / min_rate` seconds over all its attempts
  (`base` is NNPM_HUB_TIMEOUT, 30 s when unset; `min_rate` 64 KiB/s), and stops with
  `HubDeadlineError` naming the file and the deadline when it passes, however the bytes trickle;
- asks for `Accept-Encoding: identity` and reads the raw body, so a compressed answer cannot
  expand past the bound (it fails the hash check instead).

The caller (registry.py) hands in a sink that writes to a temporary file beside the destination
and removes it on any error, so nothing is left half-written.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from nnpm import config
from nnpm.errors import NnpmError, RegistryError
from nnpm.fsutil import HashingWriter, write_chunk, writing
from nnpm.registry.hub.http import HubCaller, _httpx

#: bytes per second a download must average, on top of the base, before its deadline passes
MIN_RATE = 64 * 1024
#: the base of a file's deadline when NNPM_HUB_TIMEOUT is unset (the CLI sets it to 30 as well)
BASE_SECONDS = 30.0
#: how much of an error answer's body is read (the client's error text comes from it)
ERROR_BODY_BYTES = 64 * 1024


class HubDeadlineError(RegistryError):
    """A download did not finish within the deadline its size allows (a stalled or drip-feeding server)."""

    default_hint = (
        "the Hub is stalled or too slow; try again later, or raise NNPM_HUB_TIMEOUT "
        "(seconds, the base of every file's deadline)"
    )


@dataclass
class Deadline:
    """`base + size / min_rate` seconds from now, for one file over all its attempts."""

    base: float
    size: int
    min_rate: float = MIN_RATE
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def for_size(cls, size: int, *, base: float | None = None, min_rate: float | None = None) -> Deadline:
        """The deadline of a `size`-byte file; `base` defaults to NNPM_HUB_TIMEOUT, else 30 s."""
        if base is None:
            base = config.hub_timeout() or BASE_SECONDS
        return cls(max(base, 0.001), size, min_rate or MIN_RATE)

    @property
    def seconds(self) -> float:
        return self.base + self.size / self.min_rate

    def remaining(self) -> float:
        return self.started + self.seconds - time.monotonic()

    def error(self, what: str, where: str, received: int, *, declared: bool = True) -> HubDeadlineError:
        size = f"{self.size:,} bytes" if declared else f"at most {self.size:,} bytes"
        return HubDeadlineError(
            f"cannot {what}: not done within its {self.seconds:.3g} s deadline "
            f"({self.base:g} s + {size} at {self.min_rate / 1024:g} KiB/s); {received:,} bytes had arrived",
            where=where,
        )


class Sink(Protocol):
    def reset(self) -> None: ...
    def write(self, chunk: bytes) -> None: ...


class MemorySink:
    """Keeps the bytes (nnpm.toml, at most 1 MiB)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def reset(self) -> None:
        self.data.clear()

    def write(self, chunk: bytes) -> None:
        self.data.extend(chunk)


class FileSink:
    """Writes to an open binary file and hashes what it writes; `reset` starts over (a retried attempt).

    Writes go through `nnpm.fsutil.write_chunk`, and a disk that is full or read-only is one
    WriteError naming `where` (an nnpm error: not retried)."""

    def __init__(self, fh: BinaryIO, where: str) -> None:
        self.fh = fh
        self.where = where
        #: a HashingWriter (the store's) hashes what it is given: hashing here too would be a second hash
        self.hashes_itself = isinstance(fh, HashingWriter)
        self.reset()

    def reset(self) -> None:
        with writing(self.where):
            self.fh.seek(0)
            self.fh.truncate()
        self.hasher = None if self.hashes_itself else hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        with writing(self.where):
            write_chunk(self.fh, chunk)
        if self.hasher is not None:
            self.hasher.update(chunk)

    def digest(self) -> str:
        return self.fh.result()[0] if self.hashes_itself else self.hasher.hexdigest()


def fetch(http: HubCaller, url: str, headers: dict[str, str], sink: Sink, **options: Any) -> int:
    """`stream` through `http` (offline refusal, retries while the deadline allows, typed errors);
    the sink is reset before each attempt. `options` are stream's. Returns the number of bytes received."""

    def attempt() -> int:
        sink.reset()
        return stream(url, headers, sink.write, **options)

    return http.call(attempt, where=options["where"], what=options["what"])


def stream(
    url: str,
    headers: dict[str, str],
    sink: Callable[[bytes], None],
    *,
    limit: int,
    deadline: Deadline,
    too_large: Callable[[int], NnpmError],
    what: str,
    where: str,
    declared: bool = True,
) -> int:
    """GET `url` into `sink`, at most `limit` bytes, before `deadline`; the number of bytes received.

    One attempt: HubCaller.call retries what is transient (5xx, timeouts, dropped connections) while
    the deadline allows. `too_large(n)` is the error for a body of more than `limit` bytes.
    """
    from huggingface_hub.utils import get_session

    httpx = _httpx()
    received = 0
    remaining = deadline.remaining()
    if remaining <= 0:
        raise deadline.error(what, where, received, declared=declared)
    wait = min(remaining, deadline.base)  # a stalled read is noticed at the deadline at the latest
    timeout = httpx.Timeout(wait, connect=wait)
    request_headers = {**headers, "Accept-Encoding": "identity"}
    try:
        with get_session().stream("GET", url, headers=request_headers, timeout=timeout) as response:
            if response.status_code >= 400:
                _raise_for_status(response)
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > limit:
                raise too_large(int(announced))
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > limit:
                    raise too_large(received)
                sink(chunk)
                if deadline.remaining() <= 0:
                    raise deadline.error(what, where, received, declared=declared)
    except httpx.TimeoutException:
        if deadline.remaining() <= 0:
            raise deadline.error(what, where, received, declared=declared) from None
        raise
    return received


def _raise_for_status(response) -> None:
    """The client's typed error for an error answer, from at most ERROR_BODY_BYTES of its body."""
    from huggingface_hub.utils import hf_raise_for_status

    httpx = _httpx()
    body = b""
    for chunk in response.iter_raw():
        body += chunk
        if len(body) >= ERROR_BODY_BYTES:
            break
    headers = {
        k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")
    }
    bounded = httpx.Response(
        response.status_code, headers=headers, content=body[:ERROR_BODY_BYTES], request=response.request
    )
    hf_raise_for_status(bounded)
    raise RegistryError(f"the Hub answered HTTP {response.status_code}")  # pragma: no cover - raised above
