"""Architecture families, registered by name.

A family knows two things about a declarative spec (`[architecture]` in a
manifest): which tensors of which shapes its weights must hold, computed in plain
Python so that publish and install can check weights without importing torch; and
how to build the torch module, in a separate module that is imported only when a
network is actually built. Loading a package therefore never runs code that came
with it: the package supplies data, nnpm supplies the code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnpm.errors import ArchitectureError

if TYPE_CHECKING:
    import torch

    from nnpm.package.manifest import Architecture, Manifest

#: Modules (torch-free) whose import registers families. Each science area adds its own.
FAMILY_PROVIDERS = (
    "nnpm.nn.mlp_spec",
    "nnpm.compose.spec",
    "nnpm.science.cnn.specs",
    "nnpm.science.rnn.specs",
)


@dataclass(frozen=True)
class Family:
    """One architecture family.

    shapes(arch) -> {tensor name: shape} of the state dict the spec implies (the package's own
    tensors only, not those of its dependencies).
    builder is "module:function"; function(arch, context) -> torch.nn.Module with those tensors.
    """

    name: str
    description: str
    shapes: Callable[[Architecture], dict[str, tuple[int, ...]]]
    builder: str
    #: optional "module:function"; function(model_net, module_manifests) -> a network giving the
    #: source model's logits over the union of the modules' kernels (one fused forward).
    fuser: str | None = None


_FAMILIES: dict[str, Family] = {}
_loaded = False


def register(family: Family) -> Family:
    if family.name in _FAMILIES and _FAMILIES[family.name] != family:
        raise ArchitectureError(f"architecture family {family.name!r} is registered twice")
    _FAMILIES[family.name] = family
    return family


def _load_providers() -> None:
    global _loaded
    if _loaded:
        return
    for module in FAMILY_PROVIDERS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise  # a real import error inside an existing provider
    _loaded = True


def families() -> Mapping[str, Family]:
    _load_providers()
    return dict(sorted(_FAMILIES.items()))


def get(name: str) -> Family:
    _load_providers()
    try:
        return _FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(_FAMILIES)) or "none"
        raise ArchitectureError(f"unknown architecture family {name!r} (known: {known})") from None


def expected_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    try:
        return get(arch.family).shapes(arch)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchitectureError(f"architecture.params do not fit family {arch.family!r}: {exc}") from None


@dataclass(frozen=True)
class BuildContext:
    """What a builder may use besides the spec: the package's directory (to read data files such
    as a vocabulary, never code) and its dependencies, already loaded and verified."""

    directory: Path | None = None
    manifest: Manifest | None = None
    dependencies: Mapping[str, torch.nn.Module] = field(default_factory=dict)


def build(arch: Architecture, context: BuildContext | None = None) -> torch.nn.Module:
    """Build an untrained torch module for the spec (imports torch)."""
    module_name, _, func = get(arch.family).builder.partition(":")
    return getattr(importlib.import_module(module_name), func)(arch, context or BuildContext())


def fuser(name: str) -> Callable | None:
    """The family's fusion function, imported on use, or None when it cannot fuse modules."""
    target = get(name).fuser
    if target is None:
        return None
    module_name, _, func = target.partition(":")
    return getattr(importlib.import_module(module_name), func)


def param(arch: Architecture, key: str, default: Any = None) -> Any:
    """A family parameter, with a clear error when a required one is missing."""
    if key in arch.params:
        return arch.params[key]
    if default is None:
        raise ArchitectureError(f"architecture.params.{key} is required by family {arch.family!r}")
    return default
