"""Packing a directory into a package, and checking a packed one.

`pack` is what a producer runs: it renders the card, hashes every file into the
manifest and checks the weights against the architecture. `check_package` is what
publish and install run: it re-derives all of that and refuses any difference.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from nnpm.errors import ImmutableVersionError, IntegrityError, ManifestError
from nnpm.fsutil import atomic_write_bytes, atomic_write_text, hash_regular_file, kind_of, scan_tree
from nnpm.package import families
from nnpm.package.card import card_difference, is_generated, render_card
from nnpm.package.files import read_text_file
from nnpm.package.manifest import CARD_NAME, MANIFEST_NAME, FileEntry, Manifest, sha256_bytes
from nnpm.package.signing import SIGNATURE_NAME
from nnpm.package.weights import check_shapes, read_header

WEIGHTS_SUFFIX = ".safetensors"


def pack(
    directory: Path,
    *,
    base_model_repo: str | None = None,
    published: Mapping[str, str] | None = None,
) -> Manifest:
    """Render README.md, hash every file into [files], check the weights; rewrite nnpm.toml atomically.

    With `base_model_repo`, the card names the source model's Hub repo as `base_model`, so a
    module published there links to its model. The card is fixed at pack time because it is
    one of the hashed files: the package digest is the same in every registry.

    `published` maps places (``registry local``, ``the store``) to the digest this name and
    version already has there. Packing it into another digest is refused before anything is
    written (ImmutableVersionError: bump the version), so one name and version keeps one digest.
    """
    directory = Path(directory)
    manifest = Manifest.read(directory / MANIFEST_NAME)
    package_files(directory)  # a link or a FIFO is refused before anything is written
    check_composite_modules(manifest, where=str(directory / MANIFEST_NAME))
    keep_hand_written_readme(directory)
    card = render_card(manifest, base_model_repo=base_model_repo).encode("utf-8")
    files = {
        rel: FileEntry(*hash_regular_file(directory / rel))
        for rel in package_files(directory)
        if rel not in (MANIFEST_NAME, CARD_NAME, SIGNATURE_NAME)
    }
    files[CARD_NAME] = FileEntry(sha256_bytes(card), len(card))
    packed = manifest.with_files(files, where=str(directory))
    check_weights(directory, packed)
    text = packed.to_toml()
    refuse_second_digest(packed, published or {}, where=str(directory / MANIFEST_NAME), text=text)
    atomic_write_bytes(directory / CARD_NAME, card)
    if text != read_text_file(directory / MANIFEST_NAME):  # a signature over the old files signs nothing now
        (directory / SIGNATURE_NAME).unlink(missing_ok=True)
    atomic_write_text(directory / MANIFEST_NAME, text)
    return packed


def keep_hand_written_readme(directory: Path) -> None:
    """Pack writes README.md; a README a person wrote is refused, not overwritten (nothing lost)."""
    path = directory / CARD_NAME
    try:
        text = read_text_file(path)
    except FileNotFoundError:
        return
    except ManifestError:  # not text, too large, not a regular file: certainly not nnpm's card
        text = ""
    if not is_generated(text):
        raise ManifestError(
            f"{CARD_NAME} was not written by nnpm, and pack would replace it with the generated card",
            where=str(path),
            hint="nnpm generates the card from nnpm.toml: move its text into package.description "
            f"(or elsewhere), remove {CARD_NAME} and pack again (nothing was written)",
        )


def refuse_second_digest(
    manifest: Manifest, published: Mapping[str, str], *, where: str, text: str | None = None
) -> None:
    """One name and version, one digest: refuse `manifest` when that name and version already has
    another digest somewhere (`published`: place -> digest). `text`: its TOML, where the caller has it."""
    digest = sha256_bytes((manifest.to_toml() if text is None else text).encode("utf-8"))
    others = {place: d for place, d in published.items() if d != digest}
    if not others:
        return
    place, other = next(iter(others.items()))
    raise ImmutableVersionError(
        f"{manifest.id} already has sha256 {other} ({place}); packing it again would give sha256 {digest}",
        where=where,
        hint="one name and version has one digest in every registry: bump package.version in nnpm.toml "
        "and pack again (nothing was written)",
    )


def check_package(directory: Path, *, hashes: bool = True) -> Manifest:
    """Everything publish needs to trust a directory: schema, hashes, no stray files, weights fit the spec.

    `hashes=False` checks every listed file is there as a regular file but leaves hashing it to the
    caller, for a registry that hashes each byte once while copying it into its blob store."""
    directory = Path(directory)
    manifest = Manifest.read(directory / MANIFEST_NAME)
    present = package_files(directory)
    if not manifest.files:
        raise ManifestError(
            "the manifest lists no files",
            where=str(directory / MANIFEST_NAME),
            hint=f"run `nnpm pack {directory}`",
        )
    verify_files(directory, manifest, hashes=hashes)
    unlisted = sorted(set(present) - set(manifest.files) - {MANIFEST_NAME, SIGNATURE_NAME})
    if unlisted:
        raise ManifestError(
            f"file {unlisted[0]!r} is not listed in [files]",
            where=str(directory),
            hint=f"run `nnpm pack {directory}` to list it, or remove it",
        )
    check_composite_modules(manifest, where=str(directory / MANIFEST_NAME))
    check_card(directory, manifest)
    check_weights(directory, manifest)
    return manifest


def check_card(directory: Path, manifest: Manifest) -> None:
    """The README.md card must be the one `pack` renders from the manifest (its hash is already
    checked): a hand-written card would show a registry's readers what the manifest does not say."""
    path = directory / CARD_NAME
    if CARD_NAME not in manifest.files:
        return  # no card among the package's files: a registry's page renders one (the Hub does)
    difference = card_difference(read_text_file(path), manifest)
    if difference:
        raise ManifestError(
            f"{CARD_NAME} is not the card nnpm renders from nnpm.toml: {difference}",
            where=str(path),
            hint="cards are generated: put your words in package.description and run "
            f"`nnpm pack {directory}` (a published version needs a new package.version)",
        )


def package_files(directory: Path) -> list[str]:
    """The files of a package directory (relative POSIX paths, nnpm.toml included, hidden names
    left out as they are not part of a package). A symbolic link, a FIFO, a device or anything
    else that is neither a regular file nor a folder is refused, naming it: pack and publish must
    never follow a link to bytes outside the package, and never disagree about what it holds."""
    files, odd = scan_tree(directory)
    if odd:
        rel, kind = odd[0]
        raise ManifestError(
            f"{rel!r} is {kind}, not a regular file",
            where=str(directory),
            hint="a package holds only regular files: replace it with a copy of the file, or remove it",
        )
    return files


def verify_files(directory: Path, manifest: Manifest, *, hashes: bool = True) -> None:
    """Re-hash every listed file; the first mismatch names the file and both hashes. A listed file
    that is missing, or that is (or lies under) a symbolic link or anything but a regular file,
    is an IntegrityError too: installed packages are checked with this before they are loaded."""
    for rel, entry in manifest.files.items():
        path = directory / rel
        kind = _not_regular(directory, rel)
        if kind == "missing":
            raise IntegrityError(f"file {rel!r} listed in the manifest is missing", where=str(directory))
        if kind:
            raise IntegrityError(f"file {rel!r} listed in the manifest is {kind}", where=str(directory))
        if hashes:
            verify_file(path, entry)


def _not_regular(directory: Path, rel: str) -> str | None:
    """None when `rel` is a regular file reached through real folders; else what is in the way
    ("missing", "a symbolic link", "a FIFO", ...; a linked folder on the way counts as a link)."""
    path = directory
    parts = rel.split("/")
    for depth, part in enumerate(parts, 1):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return "missing"
        if stat.S_ISLNK(mode) and depth < len(parts):
            return f"under a symbolic link ({'/'.join(parts[:depth])!r})"
        if depth == len(parts):
            return None if stat.S_ISREG(mode) else kind_of(mode)
        if not stat.S_ISDIR(mode):
            return "missing"
    return None


def verify_file(path: Path, entry: FileEntry) -> None:
    digest, size = hash_regular_file(path)
    if digest != entry.sha256 or size != entry.size:
        raise IntegrityError(
            f"sha256 mismatch: expected {entry.sha256} ({entry.size} bytes), found {digest} ({size} bytes)",
            where=str(path),
        )


def weight_files(manifest: Manifest) -> list[str]:
    return [rel for rel in manifest.files if rel.endswith(WEIGHTS_SUFFIX)]


def check_composite_modules(manifest: Manifest, *, where: str) -> None:
    """A composite's modules are its dependencies: one naming a module it does not depend on
    would publish and then fail at load with a bare KeyError."""
    arch = manifest.architecture
    if manifest.kind != "composite" or arch is None:
        return
    modules = arch.params.get("modules", [])
    declared = {str(d.name) for d in manifest.dependencies}
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ManifestError("architecture.params.modules must be a list of package names", where=where)
    outside = [m for m in modules if m not in declared]
    if outside:
        raise ManifestError(
            f"architecture.params.modules names {outside[0]}, which is not among [dependencies]",
            where=where,
            hint=f"add {outside[0]} to [dependencies] (with its version), or drop it from the modules",
        )


def check_weights(directory: Path, manifest: Manifest) -> None:
    """Headers parse, and together the weight files hold exactly the tensors the architecture builds."""
    found = {}
    for rel in weight_files(manifest):
        found.update(read_header(directory / rel))
    if manifest.architecture is not None:
        where = str(directory / (weight_files(manifest) or ["weights.safetensors"])[0])
        check_shapes(found, families.expected_shapes(manifest.architecture), where=where)


def dependency_order(directories: Sequence[Path]) -> list[Path]:
    """Package directories ordered so that each comes after those among them it depends on."""
    manifests = {d: Manifest.read(d / MANIFEST_NAME) for d in directories}
    by_name = {m.name: d for d, m in manifests.items()}
    graph = {
        d: [by_name[dep.name] for dep in m.dependencies if dep.name in by_name] for d, m in manifests.items()
    }
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " -> ".join(str(manifests[d].name) for d in exc.args[1])
        raise ManifestError(
            f"the packages depend on each other in a cycle: {cycle}",
            hint="a package cannot depend on itself, directly or through others",
        ) from None
