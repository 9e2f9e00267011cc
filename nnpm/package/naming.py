"""Package names, versions and requirements.

Names are validated before they touch a path: `namespace/name`, each part lowercase
letters, digits and single dashes, so a name can never climb out of a directory
(`../x`) or collide by case on a case-insensitive filesystem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from nnpm.errors import InvalidNameError, InvalidVersionError

_PART = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_NAME_RE = re.compile(rf"(?P<namespace>{_PART})/(?P<name>{_PART})")
_PART_RE = re.compile(_PART)
_MAX_PART = 64
#: Device names Windows reserves in every directory, with or without an extension (`nul.txt` too).
WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)


def is_windows_reserved(part: str) -> bool:
    """True for `con`, `NUL.bin`, `com1.tar.gz`: a path part Windows cannot create as a file."""
    return part.split(".", 1)[0].lower() in WINDOWS_RESERVED


@dataclass(frozen=True, order=True)
class PackageName:
    """A validated `namespace/name`."""

    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str, *, where: str | None = None) -> PackageName:
        match = _NAME_RE.fullmatch(text or "") if isinstance(text, str) else None
        if not match:
            raise InvalidNameError(f"invalid package name {text!r}", where=where)
        namespace, name = match["namespace"], match["name"]
        reserved = next((p for p in (namespace, name) if is_windows_reserved(p)), None)
        if reserved:
            raise InvalidNameError(
                f"invalid package name {text!r}: {reserved!r} is a device name reserved on Windows",
                where=where,
                hint="choose another name: con, prn, aux, nul, com1-9 and lpt1-9 cannot be directories on Windows",
            )
        if len(namespace) > _MAX_PART or len(name) > _MAX_PART:
            raise InvalidNameError(
                f"invalid package name {text!r}: each part is at most {_MAX_PART} characters", where=where
            )
        return cls(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def validate_part(text: str, *, what: str = "name") -> str:
    """Validate one part of a name (a namespace, a registry name)."""
    if not isinstance(text, str) or not _PART_RE.fullmatch(text) or len(text) > _MAX_PART:
        raise InvalidNameError(
            f"invalid {what} {text!r}",
            hint="use lowercase letters, digits and single '-' (at most 64 characters)",
        )
    return text


def parse_version(text: str, *, where: str | None = None) -> Version:
    try:
        return Version(str(text))
    except InvalidVersion:
        raise InvalidVersionError(f"invalid version {text!r}", where=where) from None


def canonical_version(text: str, *, where: str | None = None) -> str:
    """The normalised spelling of a version, used in paths and indexes (1.0 stays 1.0)."""
    return str(parse_version(text, where=where))


def parse_specifier(text: str, *, where: str | None = None) -> SpecifierSet:
    try:
        return SpecifierSet(text or "")
    except InvalidSpecifier:
        raise InvalidVersionError(f"invalid version specifier {text!r}", where=where) from None


_REQ_RE = re.compile(r"\s*(?P<name>[^\s<>=!~,;@]+)\s*(?:@\s*(?P<at>\S+)|(?P<spec>[<>=!~].*))?\s*")


@dataclass(frozen=True)
class Requirement:
    """A package name with a PEP 440 specifier: `digits/mlp`, `digits/mlp>=1,<2`, `digits/mlp@1.0.0`."""

    name: PackageName
    specifier: SpecifierSet = SpecifierSet()

    @classmethod
    def parse(cls, text: str, *, where: str | None = None) -> Requirement:
        match = _REQ_RE.fullmatch(text or "")
        if not match:
            raise InvalidNameError(f"invalid requirement {text!r}", where=where)
        name = PackageName.parse(match["name"], where=where)
        if match["at"]:
            return cls(name, SpecifierSet(f"=={canonical_version(match['at'], where=where)}"))
        return cls(name, parse_specifier(match["spec"] or "", where=where))

    @classmethod
    def of(cls, name: str, specifier: str = "", *, where: str | None = None) -> Requirement:
        return cls(PackageName.parse(name, where=where), parse_specifier(specifier, where=where))

    def allows(self, version: Version | str, *, prereleases: bool = False) -> bool:
        return self.specifier.contains(
            Version(str(version)), prereleases=prereleases or bool(self.specifier.prereleases)
        )

    def __str__(self) -> str:
        return f"{self.name}{self.specifier}"
