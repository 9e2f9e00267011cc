"""The OCI distribution API (v2), spoken through `requests`: the few calls nnpm needs, verified.

Why not the `oras` SDK: its `get_manifest` returns parsed JSON, so the exact bytes whose
digest the lock pins are lost; its default ("token") auth backend cannot answer a Basic
challenge (an htpasswd registry) and its "basic" backend cannot answer a Bearer one, so
the backend would have to be guessed before the first request; and its monolithic upload
reads a whole weights file into memory. The distribution API itself is small and stable
(https://github.com/opencontainers/distribution-spec), so nnpm calls it directly:

- every request answers a 401 once, from its WWW-Authenticate challenge: Basic with the
  credentials (auth.py), or Bearer by asking the challenge's realm for a token (with the
  credentials when there are any, anonymously otherwise); a second 401 is one
  AuthenticationError line. Credentials are sent only over HTTPS or to a loopback host
  (or where the registry is configured insecure) and never appear in an error;
- every blob and manifest read is hashed as it arrives and checked against its digest;
- GET and HEAD are retried on 429, 5xx and dropped connections, with backoff.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urljoin, urlsplit

from nnpm.errors import AuthenticationError, ConfigError, IntegrityError, OfflineError, RegistryError
from nnpm.fsutil import HashingWriter, write_chunk
from nnpm.progress import Progress
from nnpm.registry.oci.auth import LOGIN_HINT, Authenticator, Challenge, Credentials
from nnpm.registry.oci.names import MANIFEST_MEDIA_TYPE, OciLocation

if TYPE_CHECKING:
    import requests

#: the largest manifest or JSON listing read: an nnpm manifest is a few KiB
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
_CHUNK = 1 << 20
_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class TransferStats:
    """What a client moved: how publishes deduplicate is measured with these."""

    blobs_uploaded: int = 0
    bytes_uploaded: int = 0
    blobs_reused: int = 0
    bytes_downloaded: int = 0


def _requests():
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with the oci extra
        raise ConfigError(
            "OCI registries need the `requests` package", hint="pip install 'nnpm[oci]'"
        ) from None
    return requests


class OciClient:
    """One registry host: auth state, retries, verified reads. `repo` arguments are OCI repositories."""

    def __init__(
        self,
        location: OciLocation,
        *,
        registry: str,
        credentials: Credentials | None = None,
        lookup: Callable[[], Credentials | None] | None = None,
        offline: bool = False,
        timeout: tuple[float, float] = (10.0, 300.0),
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self.location = location
        self.registry = registry
        self.offline = offline
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.stats = TransferStats()
        self._session: requests.Session | None = None
        self.auth = Authenticator(location, registry, credentials, lookup)

    def __repr__(self) -> str:  # never shows the credentials
        return f"OciClient({self.location.base_url!r}, registry={self.registry!r})"

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = _requests().Session()
            self._session.headers["User-Agent"] = "nnpm"
        return self._session

    # --- requests ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        what: str,
        ok: tuple[int, ...] = (200,),
        missing: tuple[int, ...] = (),
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: Path | bytes | None = None,
        stream: bool = False,
    ) -> requests.Response | None:
        """One API call; None when the status is in `missing` (a 404 the caller expects)."""
        if self.offline:
            raise OfflineError(
                f"cannot {what}: nnpm is offline and {self.location.base_url} is on the network",
                where=f"registry {self.registry}",
                hint="drop --offline / NNPM_OFFLINE, or install from nnpm.lock with packages already in the store",
            )
        url = urljoin(self.location.base_url, url)
        resp = self._send(method, url, scope, what, headers, params, body, stream)
        if resp.status_code == 401:
            challenge = Challenge.parse(resp.headers.get("WWW-Authenticate"))
            resp.close()
            self.auth.answer(challenge, scope, what, self.session, self.timeout)
            resp = self._send(method, url, scope, what, headers, params, body, stream)
            if resp.status_code == 401:
                resp.close()
                raise self.auth.refused(what)
        if resp.status_code in missing:
            resp.close()
            return None
        if resp.status_code not in ok:
            raise self._error(resp, what, url)
        return resp

    def _send(self, method, url, scope, what, headers, params, body, stream) -> requests.Response:
        requests = _requests()
        sent = dict(headers or {})
        auth = self.auth.header(scope, url)
        if auth:
            sent["Authorization"] = auth
        attempts = 1 + (self.retries if method in ("GET", "HEAD") else 0)
        for attempt in range(attempts):
            try:
                with contextlib.ExitStack() as stack:
                    data = stack.enter_context(body.open("rb")) if isinstance(body, Path) else body
                    resp = self.session.request(
                        method,
                        url,
                        headers=sent,
                        params=params,
                        data=data,
                        stream=stream,
                        timeout=self.timeout,
                    )
            except requests.RequestException as exc:
                if attempt + 1 < attempts:
                    time.sleep(self.backoff * 2**attempt)
                    continue
                raise RegistryError(
                    f"cannot {what}: {self.location.base_url} did not answer ({type(exc).__name__})",
                    where=f"registry {self.registry}",
                    hint="check the host and port in `nnpm registry list`, and that the registry is running",
                ) from None
            if resp.status_code in _TRANSIENT and attempt + 1 < attempts:
                resp.close()
                time.sleep(self.backoff * 2**attempt)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, resp: requests.Response, what: str, url: str) -> RegistryError:
        """An error for an unexpected status, with the registry's own OCI error code and message."""
        detail = ""
        try:
            errors = resp.json().get("errors") or []
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            detail = f": {first.get('code', '')} {str(first.get('message', ''))[:200]}".rstrip()
        except Exception:
            pass
        finally:
            resp.close()
        cls = AuthenticationError if resp.status_code == 403 else RegistryError
        hint = LOGIN_HINT if resp.status_code == 403 else None
        return cls(f"cannot {what}: HTTP {resp.status_code}{detail}", where=urlsplit(url).path, hint=hint)

    # --- the calls -----------------------------------------------------------------------------

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str] | None:
        """(exact bytes, sha256 digest) of a manifest by tag or digest; None when there is none."""
        what = f"read {repo}:{reference}"
        resp = self.request(
            "GET", f"/v2/{repo}/manifests/{reference}", scope=repo, what=what, missing=(404,),
            headers={"Accept": MANIFEST_MEDIA_TYPE}, stream=True,
        )  # fmt: skip
        if resp is None:
            return None
        data = _read_limited(resp, MAX_DOCUMENT_BYTES, what)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        claimed = resp.headers.get("Docker-Content-Digest")
        expected = reference if reference.startswith("sha256:") else claimed
        if expected and expected != digest:
            raise IntegrityError(
                f"manifest digest mismatch: expected {expected}, the bytes served hash to {digest}",
                where=f"{self.location.host}/{repo}@{reference}",
                hint="the registry serves something other than what was published; do not trust it",
            )
        return data, digest

    def put_manifest(self, repo: str, tag: str, data: bytes) -> str:
        """Push manifest bytes under `tag`; returns their digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        resp = self.request(
            "PUT", f"/v2/{repo}/manifests/{tag}", scope=repo, what=f"push {repo}:{tag}", ok=(201,),
            headers={"Content-Type": MANIFEST_MEDIA_TYPE}, body=data,
        )  # fmt: skip
        resp.close()
        return digest

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self.request(
            "HEAD", f"/v2/{repo}/blobs/{digest}", scope=repo, what=f"check blob {digest}", missing=(404,)
        )
        if resp is not None:
            resp.close()
        return resp is not None

    def upload_blob(self, repo: str, digest: str, size: int, source: Path | bytes) -> bool:
        """Upload a blob unless the repository has it (HEAD first); True when bytes were sent."""
        if self.blob_exists(repo, digest):
            self.stats.blobs_reused += 1
            return False
        what = f"upload blob {digest} to {repo}"
        started = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope=repo, what=what, ok=(202,))
        started.close()
        location = started.headers.get("Location")
        if not location:
            raise RegistryError(f"cannot {what}: no upload Location", where=f"registry {self.registry}")
        url = urljoin(self.location.base_url + f"/v2/{repo}/blobs/uploads/", location)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        done = self.request(
            "PUT",
            url,
            scope=repo,
            what=what,
            ok=(201,),
            headers=headers,
            params={"digest": digest},
            body=source if size else b"",  # an empty file object would be sent chunked
        )
        done.close()
        self.stats.blobs_uploaded += 1
        self.stats.bytes_uploaded += size
        return True

    def read_blob(self, repo: str, digest: str, size: int, *, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
        """A small blob's bytes (the nnpm.toml config), checked against its digest and size."""
        chunks = []
        for chunk in self._blob_chunks(repo, digest, size, limit=limit):
            chunks.append(chunk)
        return b"".join(chunks)

    def download_blob(
        self, repo: str, digest: str, size: int, dest: Path, progress: Progress | None = None
    ) -> None:
        """Stream a blob to `dest`, hashing as it arrives; IntegrityError unless digest and size match."""
        with dest.open("wb") as out:
            self.stream_blob(repo, digest, size, out, progress)

    def stream_blob(
        self, repo: str, digest: str, size: int, out: BinaryIO, progress: Progress | None = None
    ) -> None:
        """Write a blob into the open file `out`, checked against digest and size as it ends. A
        HashingWriter (the store's) hashes what it is given, so the blob is hashed once, there."""
        hashed = isinstance(out, HashingWriter)
        for chunk in self._blob_chunks(repo, digest, size, limit=size, hash_chunks=not hashed):
            write_chunk(out, chunk)
            if progress:
                progress.advance(len(chunk))
        if hashed and "sha256:" + out.result()[0] != digest:
            raise IntegrityError(
                f"blob digest mismatch: expected {digest}, got sha256:{out.result()[0]}",
                where=f"{self.location.host}/{repo}@{digest}",
                hint=_TAMPER_HINT,
            )

    def _blob_chunks(
        self, repo: str, digest: str, size: int, *, limit: int, hash_chunks: bool = True
    ) -> Iterator[bytes]:
        where = f"{self.location.host}/{repo}@{digest}"
        resp = self.request(
            "GET", f"/v2/{repo}/blobs/{digest}", scope=repo, what=f"download blob {digest}", stream=True
        )
        hasher, seen = hashlib.sha256(), 0
        try:
            for chunk in resp.iter_content(_CHUNK):
                seen += len(chunk)
                if seen > max(size, 0) or seen > limit:
                    raise IntegrityError(
                        f"blob is larger than its {size} bytes", where=where, hint=_TAMPER_HINT
                    )
                if hash_chunks:
                    hasher.update(chunk)
                self.stats.bytes_downloaded += len(chunk)
                yield chunk
        finally:
            resp.close()
        found = "sha256:" + hasher.hexdigest() if hash_chunks else digest  # else the caller's writer checks
        if found != digest or seen != size:
            raise IntegrityError(
                f"blob digest mismatch: expected {digest} ({size} bytes), got {found} ({seen} bytes)",
                where=where,
                hint=_TAMPER_HINT,
            )

    def tags(self, repo: str) -> list[str] | None:
        """Every tag of `repo` (following Link pagination); None when the repository does not exist."""
        return self._pages(f"/v2/{repo}/tags/list", "tags", scope=repo, what=f"list the tags of {repo}")

    def catalog(self) -> list[str] | None:
        """Every repository of the registry; None where the registry offers no catalog."""
        return self._pages(
            "/v2/_catalog", "repositories", scope="catalog", what="list repositories", missing=(404, 405)
        )

    def _pages(self, url: str, key: str, *, scope: str, what: str, missing=(404,)) -> list[str] | None:
        found: list[str] = []
        params: dict[str, str] | None = {"n": "1000"}
        for _ in range(10_000):
            resp = self.request(
                "GET", url, scope=scope, what=what, missing=missing, params=params, stream=True
            )
            if resp is None:
                return found or None
            doc = _json_limited(resp, what)
            found.extend(v for v in doc.get(key) or [] if isinstance(v, str))
            following = resp.links.get("next", {}).get("url")
            if not following:
                return found
            url, params = urljoin(self.location.base_url + url, following), None
        return found


_TAMPER_HINT = (
    "the registry's copy differs from what was published; do not use it, and tell the registry's owner"
)


def _read_limited(resp: requests.Response, limit: int, what: str) -> bytes:
    data = b""
    try:
        for chunk in resp.iter_content(_CHUNK):
            data += chunk
            if len(data) > limit:
                raise RegistryError(f"cannot {what}: the answer is larger than {limit} bytes")
    finally:
        resp.close()
    return data


def _json_limited(resp: requests.Response, what: str) -> dict:
    import json

    try:
        doc = json.loads(_read_limited(resp, MAX_DOCUMENT_BYTES, what))
    except (ValueError, RecursionError):
        raise RegistryError(f"cannot {what}: the registry answered something that is not JSON") from None
    return doc if isinstance(doc, dict) else {}
