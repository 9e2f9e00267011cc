"""The one loader: turning a verified package into a torch module.

The package supplies data only: a manifest and safetensors tensors. nnpm supplies the
code (the registered family's builder), so loading never executes anything that
came with a package. Before a byte is read the files are re-hashed, and before torch
sees a tensor its shape is checked against the architecture.

Where a package's dependencies come from is pluggable (`Source`): the store, build
directories that are not installed yet, or both in turn. Every path that builds a
network from files, whatever its source, goes through `Loader.load`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from safetensors.torch import load_file

from nnpm.errors import ArchitectureError, IntegrityError, NotInstalledError, WeightsError
from nnpm.nn.build import BuildContext, build
from nnpm.nn.noinit import no_init
from nnpm.package.families import expected_shapes
from nnpm.package.manifest import MANIFEST_NAME, Manifest, parse_toml, sha256_bytes
from nnpm.package.naming import Requirement
from nnpm.package.pack import check_package, check_weights, verify_files, weight_files
from nnpm.store.store import Store


@dataclass(frozen=True)
class PackageRef:
    """A package on disk; `sha256` is its manifest digest when a record vouches for it (installed)."""

    path: Path
    sha256: str | None = None


class Source(Protocol):
    """Where dependencies are found: the package `requirement` names, of digest `sha256` if pinned."""

    def find(self, requirement: Requirement, sha256: str | None = None) -> PackageRef | None: ...


class StoreSource:
    """Installed packages: the newest match, or the one with the pinned digest."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, requirement: Requirement, sha256: str | None = None) -> PackageRef | None:
        matches = [
            p
            for p in self.store.installed()
            if p.name == requirement.name and requirement.allows(p.version, prereleases=True)
        ]
        if sha256:
            matches = [p for p in matches if p.sha256 == sha256]
        if not matches:
            return None
        best = max(matches, key=lambda p: p.version)
        return PackageRef(best.path, best.sha256)


class DirectorySource:
    """Package directories not installed yet (a fresh build): `<root>/<name>` for each root."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r) for r in roots]

    def find(self, requirement: Requirement, sha256: str | None = None) -> PackageRef | None:
        for root in self.roots:
            for candidate in (root / requirement.name.name, root):
                if not _is_package_manifest(candidate / MANIFEST_NAME):
                    continue
                found = Manifest.read(candidate / MANIFEST_NAME)
                matches = found.name == requirement.name and requirement.allows(
                    found.version, prereleases=True
                )
                if matches and (sha256 is None or found.digest() == sha256):
                    return PackageRef(candidate)
        return None


def _is_package_manifest(path: Path) -> bool:
    """A package's nnpm.toml has a [package] table; a project's (`nnpm init`) has [project] instead."""
    if not path.is_file():
        return False
    return "package" in parse_toml(path.read_text(encoding="utf-8"), where=str(path))


class Sources:
    """Several sources, asked in order."""

    def __init__(self, *sources: Source) -> None:
        self.sources = sources

    def find(self, requirement: Requirement, sha256: str | None = None) -> PackageRef | None:
        for source in self.sources:
            found = source.find(requirement, sha256)
            if found is not None:
                return found
        return None


class Loader:
    """Builds verified packages, loading their dependencies from one `Source`."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def load(self, ref: PackageRef) -> torch.nn.Module:
        """The package's network in eval mode, with `.manifest`; every file is re-hashed first."""
        manifest = _verified_manifest(ref)
        return self._build(ref.path, manifest)

    def load_requirement(self, requirement: Requirement, sha256: str | None = None) -> torch.nn.Module:
        return self.load(self.find(requirement, sha256))

    def find(self, requirement: Requirement, sha256: str | None = None) -> PackageRef:
        ref = self.source.find(requirement, sha256)
        if ref is None:
            pinned = f" with sha256 {sha256[:12]}..." if sha256 else ""
            raise NotInstalledError(
                f"{requirement}{pinned} is not installed",
                hint=f"run `nnpm install '{requirement}'`, or keep its package directory beside this one",
            )
        return ref

    def _build(self, directory: Path, manifest: Manifest) -> torch.nn.Module:
        if manifest.architecture is None:
            raise ArchitectureError(
                f"{manifest.id} has no [architecture] to build", where=str(directory / MANIFEST_NAME)
            )
        vocabulary = manifest.architecture.vocabulary
        if vocabulary and manifest.embedding is None:
            raise ArchitectureError(
                f"architecture.vocabulary names {vocabulary}, which is not among [dependencies]",
                where=str(directory / MANIFEST_NAME),
                hint="a package depends on the embedding it reads tokens with (by ==version and sha256)",
            )
        context = BuildContext(directory, manifest, _LazyDependencies(manifest, self), self)
        with no_init():  # every tensor is loaded below: drawing random weights first would be waste
            module = build(manifest.architecture, context)
        state: dict[str, torch.Tensor] = {}
        for rel in weight_files(manifest):
            state.update(load_file(str(directory / rel)))
        _load_own_tensors(module, state, expected_shapes(manifest.architecture), directory)
        module.manifest = manifest
        return module.eval()


def _verified_manifest(ref: PackageRef) -> Manifest:
    """An installed package is checked against its record's digest; a directory as publish checks it."""
    if ref.sha256 is None:
        return check_package(ref.path)
    data = (ref.path / MANIFEST_NAME).read_bytes()
    if sha256_bytes(data) != ref.sha256:
        raise IntegrityError(
            f"manifest sha256 mismatch: expected {ref.sha256}, found {sha256_bytes(data)}",
            where=str(ref.path / MANIFEST_NAME),
            hint="run `nnpm verify`, then reinstall the package with --force",
        )
    manifest = Manifest.from_toml(data.decode("utf-8"), where=str(ref.path / MANIFEST_NAME))
    verify_files(ref.path, manifest)
    check_weights(ref.path, manifest)
    return manifest


class _LazyDependencies(Mapping[str, torch.nn.Module]):
    """Dependencies are loaded only if the builder asks for them (a module rarely needs its whole source model)."""

    def __init__(self, manifest: Manifest, loader: Loader) -> None:
        self._deps = {str(d.name): d for d in manifest.dependencies}
        self._manifest = manifest
        self._loader = loader
        self._loaded: dict[str, torch.nn.Module] = {}

    def __getitem__(self, name: str) -> torch.nn.Module:
        dep = self._deps[name]
        if name not in self._loaded:
            ref = self._loader.source.find(dep.requirement, dep.sha256)
            if ref is None and dep.sha256 and self._loader.source.find(dep.requirement) is not None:
                raise IntegrityError(
                    f"{self._manifest.name} needs {dep.requirement} with sha256 {dep.sha256}; "
                    "the one available is another build",
                    hint=f"install the {name} build that {self._manifest.name} was made with",
                )
            self._loaded[name] = self._loader.load(ref or self._loader.find(dep.requirement, dep.sha256))
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._deps)

    def __len__(self) -> int:
        return len(self._deps)


def _load_own_tensors(module: torch.nn.Module, state: dict, own: dict, directory: Path) -> None:
    """Load the package's own tensors; the rest of the state (a composite's modules, a model's
    embedding) came from dependencies the builder already loaded and verified. The network was built
    without initialisation (`no_init`), so a tensor nobody supplied is refused, never left unset.

    Copied into the built network's tensors rather than assigned: safetensors maps the file, and
    assigned tensors would stay views of that mapping (a file truncated later would crash the
    process that holds the network, and their alignment and dtype would be the file's, not the
    network's); the copy costs a few hundredths of a second per 200 MB (benchmarks/transfer.py)."""
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise WeightsError(f"weights do not fit the built network: {first}", where=str(directory)) from None
    not_loaded = sorted(k for k in missing if k in own)
    if unexpected or not_loaded:
        name = (list(unexpected) or not_loaded)[0]
        raise WeightsError(f"tensor {name!r} does not fit the built network", where=str(directory))
    stray = sorted(k for k in missing if not _from_dependency(module, k))
    if stray:
        raise WeightsError(
            f"the family built tensor {stray[0]!r} that the package does not hold", where=str(directory)
        )


def _from_dependency(module: torch.nn.Module, key: str) -> bool:
    """True when `key` lies inside a submodule that a dependency supplied: a loaded package (it has
    `.manifest`) or a network a builder derived from one (it sets `nnpm_provided = True`)."""
    node = module
    for part in key.split(".")[:-1]:
        node = getattr(node, part, None)
        if node is None:
            return False
        if getattr(node, "manifest", None) is not None or getattr(node, "nnpm_provided", False):
            return True
    return False


def load_directory(
    directory: Path, search: Sequence[Path] = (), store: Store | None = None
) -> torch.nn.Module:
    """A package directory that is not installed (a fresh build), checked as publish checks it.

    Dependencies are looked for beside it, in `search`, then in the store."""
    directory = Path(directory)
    source = Sources(DirectorySource([directory.parent, *search]), StoreSource(store or Store()))
    return Loader(source).load(PackageRef(directory))
