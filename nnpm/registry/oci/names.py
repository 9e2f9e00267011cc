"""How nnpm names map onto OCI names: `oci://` URLs, repositories, tags and media types.

`fmnist/sneaker-module` in registry `oci://registry.example.com/ml-team` is the OCI
repository `ml-team/fmnist/sneaker-module` on `registry.example.com`; version 1.0.0 is
its tag `1.0.0`. nnpm name parts (lowercase letters, digits, single dashes) are valid
OCI path components as they are, so the mapping needs no escaping. A PEP 440 version's
canonical spelling uses only letters, digits, '.', '!' and '+'; OCI tags allow neither
'!' nor '+', so '+' (a local version) is written '_' and an epoch ('!') is refused:
exactly one tag names each version, and other tags ("latest") are ignored.

Pure functions, no network.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

from nnpm.errors import ConfigError, InvalidVersionError
from nnpm.package.naming import PackageName

SCHEME = "oci"

#: the OCI image manifest every version is (OCI image spec 1.1, with artifactType)
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
#: the artifact type of an nnpm package version
ARTIFACT_TYPE = "application/vnd.nnpm.package.v1"
#: the config blob: the package's nnpm.toml, byte for byte (its digest is the package's sha256)
CONFIG_MEDIA_TYPE = "application/vnd.nnpm.package.manifest.v1+toml"
#: a layer holding one safetensors weights file of the package
WEIGHTS_MEDIA_TYPE = "application/vnd.nnpm.package.weights.v1.safetensors"
#: a layer holding any other file of the package (the README card, ...)
FILE_MEDIA_TYPE = "application/vnd.nnpm.package.file.v1"
LAYER_MEDIA_TYPES = frozenset({WEIGHTS_MEDIA_TYPE, FILE_MEDIA_TYPE})

#: the standard annotation naming a layer's file (its path relative to the package directory)
TITLE = "org.opencontainers.image.title"
#: nnpm's manifest annotations: informational for registry UIs and other tools; nnpm itself
#: trusts only nnpm.toml (the config blob), whose digest the lock pins
ANNOTATION_PREFIX = "org.nnpm.package."

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_URL_HINT = "write oci://host[:port]/namespace-path, e.g. oci://registry.example.com/ml-team"


@dataclass(frozen=True)
class OciLocation:
    """Where a registry lives: `host` (with port) and the repository path prefix ("" for none)."""

    host: str
    path: str
    insecure: bool = False

    @property
    def loopback(self) -> bool:
        hostname = urlsplit(f"//{self.host}").hostname or ""
        if hostname in LOOPBACK_HOSTS:
            return True
        try:
            return ipaddress.ip_address(hostname).is_loopback
        except ValueError:
            return False

    @property
    def base_url(self) -> str:
        """HTTPS, except on loopback (as Docker allows) or where config.toml says insecure = true."""
        return f"{'http' if self.loopback or self.insecure else 'https'}://{self.host}"

    def repository(self, name: PackageName) -> str:
        """`ml-team/fmnist/sneaker-module`: the package's OCI repository."""
        return "/".join(p for p in (self.path, name.namespace, name.name) if p)

    def package_name(self, repository: str) -> PackageName | None:
        """The package a catalog entry is, or None for a repository that is not one of ours."""
        prefix = f"{self.path}/" if self.path else ""
        if not repository.startswith(prefix):
            return None
        parts = repository.removeprefix(prefix).split("/")
        if len(parts) != 2:
            return None
        try:
            return PackageName.parse("/".join(parts))
        except Exception:
            return None


def parse_oci_url(url: str, *, insecure: bool = False) -> OciLocation:
    """`oci://host[:port]/path` -> OciLocation; credentials, queries and bad path components refused."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME or not parts.netloc:
        raise ConfigError(f"not an OCI registry URL: {url!r}", hint=_URL_HINT)
    if "@" in parts.netloc:
        raise ConfigError(
            "an OCI registry URL must not hold credentials",
            where="registry URL",
            hint="set NNPM_OCI_USERNAME / NNPM_OCI_PASSWORD, or `docker login HOST`, instead",
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"an OCI registry URL has no query or fragment: {url!r}", hint=_URL_HINT)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"invalid port in {url!r}", hint=_URL_HINT) from None
    if not parts.hostname or (port is not None and not 0 < port < 65536):
        raise ConfigError(f"invalid host in {url!r}", hint=_URL_HINT)
    path = parts.path.strip("/")
    if path and not all(_COMPONENT.fullmatch(c) for c in path.split("/")):
        raise ConfigError(
            f"invalid repository path {path!r} in {url!r}",
            hint="path components are lowercase letters and digits, separated by '.', '_' or '-'",
        )
    return OciLocation(parts.netloc.lower(), path, insecure)


def tag_for(version: Version) -> str:
    """The one tag of a version: its canonical spelling, '+' written '_'."""
    text = str(version)
    if "!" in text:
        raise InvalidVersionError(
            f"version {text} has an epoch, which an OCI tag cannot spell",
            hint="publish it under a version without an epoch",
        )
    return text.replace("+", "_")


def version_from_tag(tag: str) -> Version | None:
    """The version a tag names, or None for a tag that is not exactly some version's tag."""
    if not _TAG.fullmatch(tag):
        return None
    try:
        version = Version(tag.replace("_", "+"))
    except InvalidVersion:
        return None
    return version if tag_for(version) == tag else None
