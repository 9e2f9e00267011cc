"""Versions a search met but could not read, so that a listing never drops a package silently.

A registry's `search` reads the newest manifest of each package; a broken tag (no nnpm.toml, a
malformed one, a tag whose manifest names another version) is skipped for the next older one,
and a package none of whose tags reads is left out. Each such tag is kept as an
`UnreadableVersion` in the registry's `broken` list (reset by each search), and `Client.search`
hands them on in `SearchResults.broken`, which the CLI prints as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnpm.errors import NnpmError
from nnpm.registry.base import VersionInfo


@dataclass(frozen=True)
class UnreadableVersion:
    package: str
    #: the tag as a URL: hf://namespace/repo@v1.1.0, oci://host/path/repo:1.1.0
    where: str
    error: NnpmError
    #: False when no version of the package reads, so the search result leaves it out
    listed: bool

    def warning(self) -> str:
        what = " ".join(self.error.what.split())
        if self.listed:
            return f"{self.where} is broken ({what}); {self.package} is listed at an older version"
        return f"{self.where} is broken ({what}); {self.package} has no readable version and is not listed"


class SearchResults(list[VersionInfo]):
    """The hits of a search (a list, as before), with the unreadable versions the search met."""

    def __init__(self, hits: list[VersionInfo], broken: tuple[UnreadableVersion, ...] = ()) -> None:
        super().__init__(hits)
        self.broken = broken
