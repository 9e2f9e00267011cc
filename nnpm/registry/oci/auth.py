"""Credentials for an OCI registry, and the WWW-Authenticate challenges they answer.

Where credentials come from, first found wins:

1. NNPM_OCI_TOKEN: a bearer token issued out of band (a CI job's registry token), sent as
   `Authorization: Bearer ...` to the registry's host only;
2. NNPM_OCI_USERNAME and NNPM_OCI_PASSWORD (both set): one account for every OCI registry;
3. Docker's config.json (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), as
   `docker login` leaves it: the host's credential helper (`credHelpers`, else `credsStore`),
   the program `docker-credential-NAME` on PATH that Docker itself runs (`get`, the host on
   stdin, JSON with Username and Secret on stdout), else the host's `auths` entry (base64
   `user:pass`). The helper is the user's own configuration, never anything from a package.

A `Credentials` never shows its password: its repr is redacted, and the client never puts
it into a message, a URL, a log, a lock or a manifest.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from nnpm.errors import AuthenticationError, ConfigError, RegistryError
from nnpm.registry.oci.helpers import credential_helper, helper_credentials
from nnpm.registry.oci.names import OciLocation

TOKEN_VAR = "NNPM_OCI_TOKEN"
USERNAME_VAR = "NNPM_OCI_USERNAME"
PASSWORD_VAR = "NNPM_OCI_PASSWORD"
LOGIN_HINT = f"set {USERNAME_VAR} and {PASSWORD_VAR} (or {TOKEN_VAR}), or run `docker login HOST`"
#: the largest config.json read: far above any real one
_MAX_DOCKER_CONFIG = 1024 * 1024
_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))')


@dataclass(frozen=True)
class Credentials:
    """A username and password (or an identity token used as the password); with `bearer`, a
    token sent as it is (`password`), never exchanged."""

    username: str
    password: str = field(repr=False)
    source: str = ""
    bearer: bool = False

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***', source={self.source!r})"

    def basic(self) -> str:
        """The value of a Basic Authorization header."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Challenge:
    """A parsed WWW-Authenticate header: `scheme` ("basic" or "bearer") and its parameters."""

    scheme: str
    params: dict[str, str]

    @classmethod
    def parse(cls, header: str | None) -> Challenge | None:
        """`Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull"` -> Challenge."""
        text = (header or "").strip()
        if not text:
            return None
        scheme, _, rest = text.partition(" ")
        params = {
            key.lower(): (quoted or bare).replace('\\"', '"') for key, quoted, bare in _PARAM.findall(rest)
        }
        return cls(scheme.lower(), params)


def find_credentials(host: str, environ: dict[str, str] | None = None) -> Credentials | None:
    """The credentials for `host` (with port) from the environment, else Docker's config.json."""
    env = os.environ if environ is None else environ
    if env.get(TOKEN_VAR):
        return Credentials("", env[TOKEN_VAR], source=TOKEN_VAR, bearer=True)
    user, password = env.get(USERNAME_VAR), env.get(PASSWORD_VAR)
    if user and password is not None:
        return Credentials(user, password, source=USERNAME_VAR)
    return docker_credentials(host, docker_config_path(env))


def docker_config_path(environ: dict[str, str]) -> Path:
    base = environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def docker_credentials(host: str, path: Path) -> Credentials | None:
    """The `auths` entry for `host` in a Docker config.json, or None when it has none."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            doc = json.loads(fh.read(_MAX_DOCKER_CONFIG + 1)[:_MAX_DOCKER_CONFIG])
    except (OSError, ValueError, RecursionError):
        raise ConfigError(
            "unreadable Docker config (not JSON)", where=str(path), hint="fix it, or run `docker login` again"
        ) from None
    helper = credential_helper(doc, host)
    if helper is not None:
        found = helper_credentials(helper, host, where=str(path))
        return Credentials(*found, source=f"docker-credential-{helper}") if found else None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return None
    entry = next((auths[k] for k in _host_keys(host) if isinstance(auths.get(k), dict)), None)
    if entry is None or not isinstance(entry.get("auth"), str) or not entry["auth"]:
        return None
    try:
        user, _, password = base64.b64decode(entry["auth"], validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ConfigError(
            f"the auths entry for {host} is not base64 user:password",
            where=str(path),
            hint="run `docker login` again",
        ) from None
    return Credentials(user, password, source=str(path)) if user else None


def _host_keys(host: str) -> list[str]:
    """How `docker login` may have spelled the host as a key of `auths`."""
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v2/", f"http://{host}/v2/"]


@dataclass
class Authenticator:
    """One registry's answers to its challenges: a Basic header once asked for, Bearer tokens per scope.

    `scope` is the repository a request is about (or "catalog"): a registry's token is valid
    for the repository it was issued for, so each gets its own.
    """

    location: OciLocation
    registry: str
    credentials: Credentials | None
    #: where credentials come from when they are not given: called at each challenge, so a
    #: long-lived registry object sees a changed environment or a new `docker login`
    lookup: Callable[[], Credentials | None] | None = None
    basic: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never shows a header
        return f"Authenticator(registry={self.registry!r}, credentials={self.credentials!r})"

    def header(self, scope: str, url: str) -> str | None:
        """The Authorization value for a request to `url`; never for a host other than the registry's."""
        if urlsplit(url).netloc.lower() != self.location.host:
            return None  # an upload or download URL elsewhere (object storage) gets no credentials
        if self.credentials is not None and self.credentials.bearer:
            self._check_safe_to_send(url)
            return f"Bearer {self.credentials.password}"
        return self.tokens.get(scope) or self.basic

    def answer(self, challenge: Challenge | None, scope: str, what: str, session, timeout) -> None:
        """Prepare the Authorization header a 401's challenge asks for, or raise AuthenticationError."""
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            raise AuthenticationError(
                f"cannot {what}: the registry asks for an authentication nnpm does not speak",
                where=f"registry {self.registry}",
                hint="nnpm answers Basic and Bearer (token) challenges",
            )
        if self.lookup is not None:
            self.credentials = self.lookup()
        if self.credentials is not None and self.credentials.bearer:
            raise self.refused(what)  # the token was sent and refused: there is nothing to exchange
        self.basic = None
        self.tokens.pop(scope, None)
        if challenge.scheme == "basic":
            if self.credentials is None:
                raise self.refused(what)
            self._check_safe_to_send(self.location.base_url)
            self.basic = self.credentials.basic()
            return
        self.tokens[scope] = f"Bearer {self._token(challenge, what, session, timeout)}"

    def _token(self, challenge: Challenge, what: str, session, timeout) -> str:
        """Ask the challenge's realm for a token (docker's token protocol), with the credentials if any."""
        realm = challenge.params.get("realm", "")
        if urlsplit(realm).scheme not in ("http", "https"):
            raise AuthenticationError(
                f"cannot {what}: the registry's token realm {realm!r} is not an http(s) URL",
                where=f"registry {self.registry}",
            )
        params = {k: v for k, v in challenge.params.items() if k in ("service", "scope")}
        if self.credentials is not None:
            params.setdefault("account", self.credentials.username)
        headers = {"Accept": "application/json"}
        if self.credentials is not None:
            self._check_safe_to_send(realm)
            headers["Authorization"] = self.credentials.basic()
        import requests

        try:
            resp = session.get(realm, params=params, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise RegistryError(
                f"cannot {what}: the token service did not answer ({type(exc).__name__})",
                where=f"registry {self.registry}",
            ) from None
        if resp.status_code in (401, 403):
            raise self.refused(what)
        doc = _json(resp)
        token = doc.get("token") or doc.get("access_token")
        if resp.status_code != 200 or not isinstance(token, str) or not token:
            raise AuthenticationError(
                f"cannot {what}: the token service answered HTTP {resp.status_code} without a token",
                where=f"registry {self.registry}",
                hint=LOGIN_HINT,
            )
        return token

    def _check_safe_to_send(self, url: str) -> None:
        """Credentials travel over HTTPS, or to a loopback host, or where insecure = true says so."""
        parts = urlsplit(url)
        here = OciLocation(parts.netloc, "")
        if parts.scheme != "https" and not here.loopback and not self.location.insecure:
            raise AuthenticationError(
                f"refusing to send credentials over plain HTTP to {parts.netloc}",
                where=f"registry {self.registry}",
                hint="use an HTTPS registry, or set insecure = true for it in config.toml if you trust the network",
            )

    def refused(self, what: str) -> AuthenticationError:
        """The one error line of a refused or missing login (never with the password)."""
        if self.credentials is None:
            text = f"cannot {what}: {self.location.host} requires a login and nnpm has no credentials for it"
        else:
            text = f"cannot {what}: {self.location.host} refused the credentials (from {self.credentials.source})"
        return AuthenticationError(text, where=f"registry {self.registry}", hint=LOGIN_HINT)


def _json(resp) -> dict:
    try:
        doc = resp.json()
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}
