"""Docker credential helpers: `docker-credential-NAME get`, as Docker and every OCI client run it.

config.json names a helper per host (`credHelpers`) or one for all (`credsStore`); the helper
is a program on PATH that reads the registry host on stdin and writes
`{"ServerURL": ..., "Username": ..., "Secret": ...}`. What it prints is never logged or shown;
only its exit code is. (Username `<token>` marks an identity token, which is sent as the password
of a Basic login: the OAuth2 refresh-token exchange some registries want is not implemented.)
"""

from __future__ import annotations

import json
import shutil
import subprocess

from nnpm.errors import ConfigError

#: seconds a helper may take (a keychain prompt is answered well within it)
HELPER_TIMEOUT = 60
_HINT = (
    "install the helper config.json names, or remove it from config.json (`docker logout` / `docker login`)"
)


def credential_helper(doc: object, host: str) -> str | None:
    """The helper config.json names for `host` (credHelpers, else credsStore), or None."""
    if not isinstance(doc, dict):
        return None
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict) and isinstance(helpers.get(host), str) and helpers[host]:
        return helpers[host]
    store = doc.get("credsStore")
    return store if isinstance(store, str) and store else None


def helper_credentials(helper: str, host: str, *, where: str) -> tuple[str, str] | None:
    """Run the helper for `host`: (username, secret), or None when it has none for this host."""
    if not all(c.isalnum() or c in "-_." for c in helper):
        raise ConfigError(f"credential helper name {helper!r} is not a program name", where=where, hint=_HINT)
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        raise ConfigError(
            f"config.json names the credential helper {helper!r}, but docker-credential-{helper} is not on PATH",
            where=where,
            hint=_HINT,
        )
    try:
        done = subprocess.run(
            [program, "get"], input=host.encode(), capture_output=True, timeout=HELPER_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(
            f"credential helper {helper!r} did not run: {type(exc).__name__}", where=where
        ) from None
    if done.returncode != 0:
        said = done.stdout.decode("utf-8", "replace").strip()
        if "credentials not found" in said.lower():
            return None  # the helper's documented answer for a host it has no login for
        raise ConfigError(
            f"credential helper {helper!r} failed (exit {done.returncode})", where=where, hint=_HINT
        )
    try:
        doc = json.loads(done.stdout)
        user, secret = doc["Username"], doc["Secret"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"credential helper {helper!r} printed no Username and Secret", where=where
        ) from None
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        raise ConfigError(f"credential helper {helper!r} printed no Username and Secret", where=where)
    return user, secret
