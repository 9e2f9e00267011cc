"""Turning a verified package into a torch module.

The package supplies data only: a manifest and safetensors tensors. nnpm supplies the
code (the registered family's builder), so loading never executes anything that
came with a package. Before a byte is read the files are re-hashed, and before torch
sees a tensor its shape is checked against the architecture.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file

from nnpm.errors import ArchitectureError, IntegrityError, WeightsError
from nnpm.nn import families
from nnpm.package.manifest import MANIFEST_NAME, Manifest, sha256_bytes
from nnpm.package.pack import check_package, check_weights, verify_files, weight_files
from nnpm.store.store import InstalledPackage, Store


class _LazyDependencies(Mapping[str, torch.nn.Module]):
    """Dependencies are loaded only if the builder asks for them (a module rarely needs its whole source model)."""

    def __init__(self, manifest: Manifest, store: Store) -> None:
        self._names = [str(d.name) for d in manifest.dependencies]
        self._manifest = manifest
        self._store = store
        self._loaded: dict[str, torch.nn.Module] = {}

    def __getitem__(self, name: str) -> torch.nn.Module:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._loaded:
            dep = next(d for d in self._manifest.dependencies if str(d.name) == name)
            pkg = self._store.find(dep.requirement)
            if dep.sha256 and pkg.sha256 != dep.sha256:
                raise IntegrityError(
                    f"installed {pkg.name}=={pkg.version} has sha256 {pkg.sha256}, {self._manifest.name} needs {dep.sha256}",
                    hint=f"install the {name} build that {self._manifest.name} was made with",
                )
            self._loaded[name] = load_installed(pkg, self._store)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def load_installed(pkg: InstalledPackage, store: Store | None = None) -> torch.nn.Module:
    """Load an installed package after checking its manifest digest and every file's hash."""
    data = (pkg.path / MANIFEST_NAME).read_bytes()
    if sha256_bytes(data) != pkg.sha256:
        raise IntegrityError(
            f"manifest sha256 mismatch: expected {pkg.sha256}, found {sha256_bytes(data)}",
            where=str(pkg.path / MANIFEST_NAME),
        )
    manifest = Manifest.from_toml(data.decode("utf-8"), where=str(pkg.path / MANIFEST_NAME))
    verify_files(pkg.path, manifest)
    check_weights(pkg.path, manifest)
    return _build(pkg.path, manifest, store or Store())


def load_directory(directory: Path) -> torch.nn.Module:
    """Load a package directory that is not installed (e.g. a fresh build), with the same checks as publish."""
    manifest = check_package(directory)
    return _build(directory, manifest, Store())


def _build(directory: Path, manifest: Manifest, store: Store) -> torch.nn.Module:
    if manifest.architecture is None:
        raise ArchitectureError(
            f"{manifest.id} has no [architecture] to build", where=str(directory / MANIFEST_NAME)
        )
    vocabulary = manifest.architecture.vocabulary
    if vocabulary and vocabulary not in {str(d.name) for d in manifest.dependencies}:
        raise ArchitectureError(
            f"architecture.vocabulary names {vocabulary}, which is not among [dependencies]",
            where=str(directory / MANIFEST_NAME),
            hint="a package depends on the embedding it reads tokens with (by ==version and sha256)",
        )
    context = families.BuildContext(directory, manifest, _LazyDependencies(manifest, store))
    module = families.build(manifest.architecture, context)
    state: dict[str, torch.Tensor] = {}
    for rel in weight_files(manifest):
        state.update(load_file(str(directory / rel)))
    _load_own_tensors(module, state, families.expected_shapes(manifest.architecture), directory)
    module.manifest = manifest
    return module.eval()


def _load_own_tensors(module: torch.nn.Module, state: dict, own: dict, directory: Path) -> None:
    """Load the package's own tensors; the rest of the state (a composite's modules, a model's
    embedding) came from dependencies the builder already loaded and verified."""
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
    parts = key.split(".")
    node = module
    for part in parts[:-1]:
        node = getattr(node, part, None)
        if node is None:
            return False
        if getattr(node, "manifest", None) is not None or getattr(node, "nnpm_provided", False):
            return True
    return False
