"""How nnpm names map onto Hub names: repo ids, version tags and `hf://` URLs.

nnpm `fmnist/sneaker-module` in registry `hf://my-org` lives in the model repo
`my-org/fmnist__sneaker-module`. nnpm name parts never hold "_" (lowercase letters,
digits and single dashes only), so the mapping is reversible; the Hub forbids "--"
and ".." in repo ids, hence "__". A version is the tag `v` + its canonical PEP 440
spelling, so exactly one tag names each version and other tags can be ignored.

Pure functions, no network: the CLI parses `hf://` requirements with them before it
knows whether the Hub client is even installed.
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from nnpm.errors import ConfigError, InvalidNameError, ManifestError
from nnpm.package.naming import PackageName, Requirement

SCHEME = "hf://"
#: the Hub tag every nnpm repo carries (from the card's YAML `tags`), used to list them
NNPM_TAG = "nnpm"
#: the tag that marks a version: v1.0.0
TAG_PREFIX = "v"
SEPARATOR = "__"
MAX_REPO_NAME = 96
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_REQUIREMENT_RE = re.compile(r"^(hf://[^@<>=!~\s]+)\s*(.*)$")
_REQUIREMENT_HINT = "write hf://<namespace>/<repo>[@<version>]"


def parse_hub_url(url: str) -> tuple[str, str | None]:
    """`hf://my-org` -> ("my-org", None); `hf://my-org/repo` -> ("my-org", "repo")."""
    if not url.startswith(SCHEME):
        raise ConfigError(f"not a Hub URL: {url!r}", hint="write hf://<user or organisation>")
    parts = url.removeprefix(SCHEME).strip("/").split("/")
    if not 1 <= len(parts) <= 2 or not all(_valid_part(p) for p in parts):
        raise ConfigError(f"invalid Hub URL {url!r}", hint="write hf://<user or organisation>[/<repo>]")
    return parts[0], parts[1] if len(parts) == 2 else None


def _valid_part(part: str) -> bool:
    return bool(_NAMESPACE_RE.match(part)) and len(part) <= MAX_REPO_NAME


def repo_name_for(name: PackageName) -> str:
    """`fmnist/sneaker-module` -> `fmnist__sneaker-module` (the repo's name inside the namespace)."""
    repo = f"{name.namespace}{SEPARATOR}{name.name}"
    if len(repo) > MAX_REPO_NAME:
        raise InvalidNameError(
            f"{name} is too long for a Hub repo name ({len(repo)} > {MAX_REPO_NAME} characters)",
            hint="namespace and name together may hold at most 94 characters on the Hub",
        )
    return repo


def repo_id_for(namespace: str, name: PackageName) -> str:
    """`("my-org", fmnist/sneaker-module)` -> `my-org/fmnist__sneaker-module`."""
    return f"{namespace}/{repo_name_for(name)}"


def package_name_for(repo: str) -> PackageName:
    """The inverse of `repo_name_for`; accepts a repo name or a full repo id."""
    repo_name = repo.rsplit("/", 1)[-1]
    namespace, sep, name = repo_name.partition(SEPARATOR)
    if not sep:
        raise ManifestError(
            f"Hub repo {repo!r} is not an nnpm package: its name is not <namespace>__<name>",
            hint="nnpm packages live in repos named like fmnist__sneaker-module",
        )
    return PackageName.parse(f"{namespace}/{name}", where=f"Hub repo {repo}")


def parse_hub_requirement(text: str) -> tuple[str, Requirement]:
    """`hf://my-org/fmnist__sneaker-module@1.0.0` -> ("my-org", fmnist/sneaker-module==1.0.0).

    Also accepts a PEP 440 specifier after the repo (`hf://my-org/fmnist__sneaker-module>=1`)
    or nothing (any version). The CLI uses it for `nnpm install hf://...`.
    """
    match = _REQUIREMENT_RE.match(text.strip())
    if not match:
        raise InvalidNameError(f"invalid Hub requirement {text!r}", hint=_REQUIREMENT_HINT)
    namespace, repo = parse_hub_url(match.group(1))
    if repo is None:
        raise InvalidNameError(f"{text!r} names a namespace, not a package", hint=_REQUIREMENT_HINT)
    requirement = Requirement.parse(f"{package_name_for(repo)}{match.group(2)}", where=text)
    return namespace, requirement


def tag_for(version: Version | str) -> str:
    """The git tag of a version: v + the canonical PEP 440 spelling (v1.0.0)."""
    return f"{TAG_PREFIX}{Version(str(version))}"


def version_from_tag(tag: str) -> Version | None:
    """The version a tag names, or None for a tag that is not an nnpm version tag.

    Only the canonical spelling counts (`v01.0` is not `v1.0`), so two tags can never
    claim the same version.
    """
    if not tag.startswith(TAG_PREFIX):
        return None
    try:
        version = Version(tag[len(TAG_PREFIX) :])
    except InvalidVersion:
        return None
    return version if tag == tag_for(version) else None
