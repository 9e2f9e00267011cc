"""`nnpm search` on a Hub namespace: the newest readable version of each package, broken tags named.

Reads the newest manifest only; when that tag is broken (no nnpm.toml, a malformed or oversized
one, a tag/manifest mismatch) the next older tag is read instead and its description starts
with "[tag v1.1.0 is broken: ...]", so that the listing says so. Every broken tag met is
returned as an UnreadableVersion; a package none of whose tags reads is left out of the hits
but named there too.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from nnpm.errors import InvalidInputError, NnpmError
from nnpm.package.naming import PackageName
from nnpm.registry.base import VersionInfo
from nnpm.registry.search import select
from nnpm.registry.unreadable import UnreadableVersion

if TYPE_CHECKING:
    from nnpm.registry.hub.registry import HubRegistry


def search(registry: HubRegistry, query: str) -> tuple[list[VersionInfo], list[UnreadableVersion]]:
    """(hits sorted by name, every broken tag met)."""
    latest: list[VersionInfo] = []
    notes: dict[PackageName, str] = {}
    unreadable: list[UnreadableVersion] = []
    for text in registry.package_names():
        name = PackageName.parse(text)
        found, broken = newest_readable(registry, name)
        unreadable += [
            UnreadableVersion(str(name), f"{registry.repo_url(name)}@{tag}", error, listed=found is not None)
            for tag, error in broken
        ]
        if found is not None:
            latest.append(found)
        if found is not None and broken:
            notes[name] = f"[tag {broken[0][0]} is broken: {' '.join(broken[0][1].what.split())}]"
    # the query matches what the package says, not the note, which is added after
    hits = [
        dataclasses.replace(i, description=f"{notes[i.name]} {i.description}".strip())
        if i.name in notes
        else i
        for i in select(query, latest)
    ]
    return hits, unreadable


def newest_readable(
    registry: HubRegistry, name: PackageName
) -> tuple[VersionInfo | None, list[tuple[str, NnpmError]]]:
    """The newest version whose manifest reads, and (tag, error) for each newer tag that did not."""
    broken: list[tuple[str, NnpmError]] = []
    for version, tag, sha in reversed(registry._version_tags(name)):
        try:
            return registry._read(name, version, tag, sha), broken
        except InvalidInputError as exc:  # ManifestError, and the name/version errors of a bad manifest
            broken.append((tag, registry.http.scrub(exc)))
    return None, broken
