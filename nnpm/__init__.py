"""nnpm: a package manager for neural-network modules.

Public names are imported on first use (PEP 562), so `import nnpm` and the CLI's
registry commands never pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "load": "nnpm.api",
    "install": "nnpm.api",
    "uninstall": "nnpm.api",
    "publish": "nnpm.api",
    "verify": "nnpm.api",
    "search": "nnpm.api",
    "show": "nnpm.api",
    "list_installed": "nnpm.api",
    "pack": "nnpm.package.pack",
    "Manifest": "nnpm.package.manifest",
    "NnpmError": "nnpm.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from nnpm.api import install, list_installed, load, publish, search, show, uninstall, verify  # noqa: F401
    from nnpm.errors import NnpmError  # noqa: F401
    from nnpm.package.manifest import Manifest  # noqa: F401
    from nnpm.package.pack import pack  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nnpm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
