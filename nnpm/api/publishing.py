"""Packing and publishing for a `Client`: one name and version keeps one digest everywhere.

`pack` refuses to give a name and version that the store or a local registry already holds
another digest; `publish_all` checks a whole set before publishing any of it, and a rerun after
a failure half way completes the set (docs/package-format.md, "One name and version, one digest").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nnpm.errors import ImmutableVersionError, NnpmError, UsageError
from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.package.naming import Requirement
from nnpm.registry.base import PublishResult, Registry


def pack(client, directory: Path, hub_namespace: str | None) -> Manifest:
    from nnpm.package.pack import pack as pack_directory

    base_model = None
    manifest = Manifest.read(directory / MANIFEST_NAME)
    if hub_namespace and not manifest.source.model:
        raise UsageError(
            f"{manifest.id} names no source model, so a Hub namespace for its card does not apply",
            hint="drop --hub-namespace: only a module's card links the model it was cut from",
        )
    if hub_namespace:
        from nnpm.registry.hub import repo_id_for

        base_model = repo_id_for(hub_namespace, Requirement.parse(manifest.source.model).name)
    published = local_digests(client, manifest.name, manifest.version)
    return pack_directory(directory, base_model_repo=base_model, published=published)


def local_digests(client, name, version) -> dict[str, str]:
    """Where this name and version already has a digest, without the network: the store and the
    local (folder) registries, as place ("installed in the store", "registry NAME") -> sha256."""
    found = {}
    installed = client.store.get(name, version)
    if installed is not None:
        found["installed in the store"] = installed.sha256
    for reg in client.registries():
        if reg.scheme != "file":
            continue
        for info in reg.versions(name):
            if info.version == version:
                found[f"registry {reg.name}"] = info.sha256
    return found


def publish_all(client, directories: Sequence[Path], registry: str | None) -> list[PublishResult]:
    from nnpm.package.pack import check_package, dependency_order

    reg = client.registry(registry)
    checked = [(d, check_package(d)) for d in dependency_order(list(directories))]
    refuse_conflicts(checked, reg)
    results: list[PublishResult] = []
    for directory, manifest in checked:
        try:
            results.append(reg.publish(directory, manifest))
        except NnpmError as exc:
            if results:
                exc.hint = (
                    f"{exc.hint}; {len(results)} of {len(checked)} packages were published before "
                    f"this one: rerun the same command to publish the rest"
                )
                exc.args = (exc.one_line(),)
            raise
    return results


def refuse_conflicts(checked: Sequence[tuple[Path, Manifest]], reg: Registry) -> None:
    """Before a set is published: two folders with one name and version but different content, or a
    version the registry already holds with another digest, refuse the whole set."""
    seen: dict[tuple, tuple[Path, str]] = {}
    for directory, manifest in checked:
        digest, key = manifest.digest(), (manifest.name, manifest.version)
        if key in seen and seen[key][1] != digest:
            raise ImmutableVersionError(
                f"{manifest.id} is in {seen[key][0]} and in {directory} with different content",
                hint="publish one of them, or give one another version; nothing was published",
            )
        seen[key] = (directory, digest)
        for info in reg.versions(manifest.name):
            if info.version == manifest.version and info.sha256 != digest:
                raise ImmutableVersionError(
                    f"{manifest.id} is already published with different content (sha256 {info.sha256}; "
                    f"{directory} has sha256 {digest})",
                    where=f"registry {reg.name}",
                    hint="published versions never change: bump the version in its nnpm.toml and pack it "
                    "again; nothing of this set was published",
                )
