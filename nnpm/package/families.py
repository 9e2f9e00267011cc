"""The catalogue of architecture families, found through the `nnpm.families` entry points.

A manifest names a family (`[architecture] family = "simcnn"`); the family says which
tensors of which shapes the spec implies, in plain Python, so that publish and install
check weights without importing torch, and how to build the torch module, as a
"module:function" imported only when a network is built. Loading a package therefore
never runs code that came with it: the package supplies data, an installed
distribution supplies the code.

nnpm's own families live in `nnpm.nn` and register like anyone else's: each entry point
of the group `nnpm.families` names a `Family` object, and its name is the family's name.
A third party ships a family in its own distribution with one line of pyproject.toml:

    [project.entry-points."nnpm.families"]
    my-net = "my_dist.spec:MY_NET"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nnpm.errors import ArchitectureError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from nnpm.package.manifest import Architecture

GROUP = "nnpm.families"


@dataclass(frozen=True)
class Family:
    """One architecture family.

    shapes(arch) -> {tensor name: shape} of the state dict the spec implies (the package's own
    tensors only, not those of its dependencies).
    builder is "module:function"; function(arch, context) -> torch.nn.Module with those tensors.
    fuser, optional, is "module:function"; function(model_net, module_manifests) -> a network
    giving the source model's logits over the union of the modules' kernels (one fused forward).
    """

    name: str
    description: str
    shapes: Callable[[Architecture], dict[str, tuple[int, ...]]]
    builder: str
    fuser: str | None = None


_FAMILIES: dict[str, Family] = {}
_ENTRY_POINTS: dict[str, EntryPoint] | None = None


def register(family: Family) -> Family:
    """Add a family by hand (tests, notebooks); distributions use the entry-point group instead."""
    if family.name in _FAMILIES and _FAMILIES[family.name] != family:
        raise ArchitectureError(f"architecture family {family.name!r} is registered twice")
    _FAMILIES[family.name] = family
    return family


def _entry_points() -> dict[str, EntryPoint]:
    global _ENTRY_POINTS
    if _ENTRY_POINTS is None:
        from importlib.metadata import entry_points  # read once, when a family is first needed

        found: dict[str, EntryPoint] = {}
        for ep in entry_points(group=GROUP):
            if ep.name in found and found[ep.name].value != ep.value:
                raise ArchitectureError(
                    f"architecture family {ep.name!r} is provided twice ({found[ep.name].value}, {ep.value})",
                    hint="uninstall one of the distributions that provide it",
                )
            found[ep.name] = ep
        _ENTRY_POINTS = found
    return _ENTRY_POINTS


def _load(name: str) -> Family | None:
    if name in _FAMILIES:
        return _FAMILIES[name]
    ep = _entry_points().get(name)
    if ep is None:
        return None
    family = ep.load()
    if not isinstance(family, Family) or family.name != name:
        raise ArchitectureError(
            f"entry point {GROUP}:{name} ({ep.value}) is not a Family named {name!r}",
            hint="an entry point of this group must name a nnpm.package.families.Family object",
        )
    return register(family)


def families() -> Mapping[str, Family]:
    """Every family available: nnpm's own and those of installed third-party distributions."""
    for name in _entry_points():
        _load(name)
    return dict(sorted(_FAMILIES.items()))


def get(name: str) -> Family:
    family = _load(name)
    if family is None:
        known = ", ".join(families()) or "none"
        raise ArchitectureError(
            f"unknown architecture family {name!r} (known: {known})",
            hint="install the distribution that provides it (entry-point group nnpm.families)",
        )
    return family


def expected_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    try:
        return get(arch.family).shapes(arch)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchitectureError(f"architecture.params do not fit family {arch.family!r}: {exc}") from None


def param(arch: Architecture, key: str, default: Any = None) -> Any:
    """A family parameter, with a clear error when a required one is missing."""
    if key in arch.params:
        return arch.params[key]
    if default is None:
        raise ArchitectureError(f"architecture.params.{key} is required by family {arch.family!r}")
    return default
