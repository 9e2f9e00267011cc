"""Building torch modules from specs: the torch side of the family catalogue."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nnpm.package.families import get

if TYPE_CHECKING:
    import torch

    from nnpm.nn.loader import Loader
    from nnpm.package.manifest import Architecture, Manifest


@dataclass(frozen=True)
class BuildContext:
    """What a builder may use besides the spec: the package's directory (to read data files such
    as a vocabulary, never code), its dependencies, already loaded and verified, and the loader
    that loaded them (a composite asks it for its modules' source model, to fuse them)."""

    directory: Path | None = None
    manifest: Manifest | None = None
    dependencies: Mapping[str, torch.nn.Module] = field(default_factory=dict)
    loader: Loader | None = None


def _target(spec: str) -> Callable:
    module_name, _, func = spec.partition(":")
    return getattr(importlib.import_module(module_name), func)


def build(arch: Architecture, context: BuildContext | None = None) -> torch.nn.Module:
    """Build an untrained torch module for the spec (imports torch)."""
    return _target(get(arch.family).builder)(arch, context or BuildContext())


def fuser(name: str) -> Callable | None:
    """The family's fusion function, imported on use, or None when it cannot fuse modules."""
    target = get(name).fuser
    return None if target is None else _target(target)
