"""nnpm's policy for talking to the Hub: offline refusal, retries with backoff, timeouts, typed errors.

The `huggingface_hub` client raises its own exception classes and leaves retrying
and timeouts of API calls to the application. Here every client call a registry
makes goes through `HubCaller.call`, which

- refuses before any request when nnpm is offline (HF_HUB_OFFLINE, NNPM_OFFLINE);
- retries what may succeed on a second try (5xx, 408, 429, timeouts, dropped
  connections) with exponential backoff;
- turns everything else into one nnpm error, chosen by the client's exception
  *class* and the HTTP status, never by the text of a message, with the token
  redacted from anything the server said.

`huggingface_hub` is imported inside the functions so that CLI start-up stays fast.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from nnpm import config
from nnpm.errors import (
    AuthenticationError,
    NnpmError,
    NotFoundError,
    OfflineError,
    PackageNotFoundError,
    RegistryError,
    VersionNotFoundError,
)
from nnpm.registry.hub import secrets

T = TypeVar("T")

LOGIN_HINT = "set HF_TOKEN to a Hugging Face access token, or run `hf auth login`"


class HubFileNotFoundError(NotFoundError, RegistryError):
    """The repo exists at that revision but does not hold the file (the Hub's EntryNotFound).

    A NotFoundError (exit code 4) and a RegistryError, so a caller may catch either;
    the registry turns a missing nnpm.toml into "not an nnpm package" by catching this class.
    """

    default_hint = "the repo at that version lacks a file its nnpm.toml lists; tell the repo's owner"


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


def _httpx():
    try:  # huggingface_hub >= 2 ships its HTTP client as httpx2
        import httpx2 as httpx
    except ImportError:  # pragma: no cover - older clients use httpx
        import httpx
    return httpx


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind a client exception, or None when no response came back."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return exc.response.status_code
    return None


def request_of(exc: BaseException) -> str | None:
    """`GET http://host/path` of the request behind a client or transport exception (no query string:
    nothing secret travels there, but nothing useful either), or None when it is not known."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            request = exc.response.request
        elif isinstance(exc, _httpx().RequestError):
            request = exc.request
        else:
            return None
    except RuntimeError:  # an httpx object made without its request
        return None
    url = request.url
    port = f":{url.port}" if url.port else ""
    return f"{request.method} {url.scheme}://{url.host}{port}{url.path}"


def is_transient(exc: BaseException) -> bool:
    """5xx, 408, 429, timeouts and dropped connections: worth retrying."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    status = status_of(exc)
    if status is not None:
        return status >= 500 or status in (408, 429)
    if isinstance(exc, LocalEntryNotFoundError):
        # hf_hub_download could not reach the server (5xx or network) and has no cached copy
        return True
    httpx = _httpx()
    return isinstance(exc, (httpx.TimeoutException, httpx.TransportError, TimeoutError, ConnectionError))


@dataclass
class HubCaller:
    """How one registry calls the Hub: `registry` and `namespace` name it in hints, `token` is redacted."""

    registry: str
    url: str
    namespace: str
    token: str | None = None
    retries: int = 4
    backoff: float = 0.5
    offline: bool | None = None

    def ensure_online(self, what: str) -> None:
        """Raise OfflineError before any request when nnpm (or the caller) says offline."""
        if self.offline if self.offline is not None else config.offline():
            raise OfflineError(
                f"cannot {what}: nnpm is offline and {self.url} is on the network",
                where=f"registry {self.registry}",
            )

    def __post_init__(self) -> None:
        secrets.remember(self.token)

    def redact(self, text: str) -> str:
        """`text` with every token nnpm knows of replaced by *** (secrets.py): server text is shown and logged."""
        return secrets.redact(text, (self.token,))

    def scrub(self, error: NnpmError) -> NnpmError:
        """`error` with every known token redacted from its message, location and hint, in place."""
        return secrets.scrub(error, (self.token,))

    def call(
        self,
        fn: Callable[[], T],
        *,
        where: str,
        what: str,
        writing: bool = False,
        client_retries: bool = False,
    ) -> T:
        """Run one client call: retry transient failures with backoff, translate the rest into nnpm errors.

        `client_retries`: the client already retries this call itself (its paginated listings and
        commits wait 1 + 2 + 4 + 8 + 8 s on a 5xx), so nnpm makes one attempt: retrying on top
        would multiply the waits (5 x 23 s). Every error leaves with the tokens redacted.
        """
        self.ensure_online(what)
        secrets.install_log_filter()
        delay = self.backoff
        attempts = 1 if client_retries else self.retries + 1
        for attempt in range(attempts):
            try:
                return fn()
            except NnpmError as exc:
                raise self.scrub(exc) from None
            except Exception as exc:
                if is_transient(exc) and attempt + 1 < attempts:
                    time.sleep(delay)
                    delay *= 2
                    continue
                error = self.translate(
                    exc,
                    where=where,
                    what=what,
                    writing=writing,
                    attempts=None if client_retries else attempt + 1,
                )
                raise self.scrub(error) from None
        raise AssertionError("unreachable")

    def translate(
        self, exc: Exception, *, where: str, what: str, writing: bool, attempts: int | None
    ) -> NnpmError:
        """The nnpm error for a client exception that retrying did not cure (or cannot cure)."""
        for rule in (self._mode_error, self._auth_error, self._missing_error):
            error = rule(exc, where=where, what=what, writing=writing)
            if error is not None:
                return error
        return self._other_error(exc, where=where, what=what, attempts=attempts)

    def _server_says(self, exc: Exception) -> str:
        """The server's own explanation (the Hub's X-Error-Message header), token redacted."""
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            return self.redact(exc.response.headers.get("X-Error-Message") or "")
        return ""

    def _mode_error(self, exc: Exception, *, where: str, what: str, writing: bool) -> NnpmError | None:
        """The client's own offline mode, and gated repos: both refuse before any content moves."""
        from huggingface_hub.errors import GatedRepoError, OfflineModeIsEnabled

        if isinstance(exc, OfflineModeIsEnabled):
            return OfflineError(f"cannot {what}: the Hub client is in offline mode", where=where)
        if isinstance(exc, GatedRepoError):
            return AuthenticationError(
                f"cannot {what}: the repo is gated",
                where=where,
                hint=f"request access on the Hub, then {LOGIN_HINT}",
            )
        return None

    def _auth_error(self, exc: Exception, *, where: str, what: str, writing: bool) -> NnpmError | None:
        """401/403. A private repo read without rights is a 404-like RepositoryNotFoundError, not this."""
        from huggingface_hub.errors import RepositoryNotFoundError

        status = status_of(exc)
        refused = status in (401, 403) and not isinstance(exc, RepositoryNotFoundError)
        if not (refused or (writing and status == 401)):
            return None
        need = f"a token with write access to {self.namespace!r}" if writing else "a token that can read it"
        reason = "not authenticated" if status == 401 else "permission denied"
        server_says = self._server_says(exc)
        detail = f" ({server_says})" if server_says else ""
        return AuthenticationError(
            f"cannot {what}: {reason}{detail}", where=where, hint=f"{LOGIN_HINT} with {need}"
        )

    def _missing_error(self, exc: Exception, *, where: str, what: str, writing: bool) -> NnpmError | None:
        """No such repo, revision or file: the client's typed errors for the Hub's X-Error-Code."""
        from huggingface_hub.errors import (
            RemoteEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        if isinstance(exc, RepositoryNotFoundError):
            private = " (or it is private: log in to see it)" if status_of(exc) == 401 else ""
            return PackageNotFoundError(
                f"no such repo on the Hub{private}",
                where=where,
                hint=f"check the name with `nnpm search --registry {self.registry}`",
            )
        if isinstance(exc, RevisionNotFoundError):
            return VersionNotFoundError("no such version (tag or commit) in the repo", where=where)
        if isinstance(exc, RemoteEntryNotFoundError):
            return HubFileNotFoundError(f"cannot {what}: the file is missing from the repo", where=where)
        return None

    def _other_error(self, exc: Exception, *, where: str, what: str, attempts: int | None) -> NnpmError:
        """Retries ran out, or the Hub answered something nnpm has no better word for; both name the URL."""
        status = status_of(exc)
        url = request_of(exc)
        at = f", at {url}" if url else ""
        if is_transient(exc):
            cause = f"HTTP {status}" if status else type(exc).__name__
            tries = (
                "the client's retries" if attempts is None else f"{attempts} attempt{'s' * (attempts > 1)}"
            )
            return RegistryError(
                f"cannot {what}: the Hub did not answer ({cause}) after {tries}{at}",
                where=where,
                hint="the Hub may be down or unreachable; try again later, or use --offline to install from the store",
            )
        if status is not None:
            server_says = self._server_says(exc)
            detail = f": {server_says}" if server_says else ""
            return RegistryError(f"cannot {what}: the Hub answered HTTP {status}{detail}{at}", where=where)
        text = self.redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__
        return RegistryError(f"cannot {what}: {text}", where=where)


F = TypeVar("F", bound=Callable[..., Any])


def redacting(method: F) -> F:
    """Every nnpm error leaving `method` has every known token redacted (the server may have echoed one
    into a manifest, a path or a message that nnpm repeats)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except NnpmError as exc:
            self.http.scrub(exc)
            raise

    return wrapper  # type: ignore[return-value]
