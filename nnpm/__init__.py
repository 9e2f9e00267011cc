"""nnpm: a package manager for neural-network modules.

Public names are imported on first use (PEP 562), so `import nnpm` and the CLI's
registry commands never pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nnpm._version import __version__

#: public name -> the module that defines it. tests/test_public_api.py keeps this table and the
#: TYPE_CHECKING imports below in step, and checks that each name resolves.
_LAZY = {
    "Client": "nnpm.api",
    "compose": "nnpm.api",
    "decompose": "nnpm.api",
    "evaluate": "nnpm.api",
    "install": "nnpm.api",
    "list_installed": "nnpm.api",
    "load": "nnpm.api",
    "lock": "nnpm.api",
    "modularize": "nnpm.api",
    "pack": "nnpm.api",
    "publish": "nnpm.api",
    "search": "nnpm.api",
    "show": "nnpm.api",
    "sign": "nnpm.api",
    "uninstall": "nnpm.api",
    "verify": "nnpm.api",
    "Manifest": "nnpm.package.manifest",
    "NnpmError": "nnpm.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from nnpm.api import (  # noqa: F401
        Client,
        compose,
        decompose,
        evaluate,
        install,
        list_installed,
        load,
        lock,
        modularize,
        pack,
        publish,
        search,
        show,
        sign,
        uninstall,
        verify,
    )
    from nnpm.errors import NnpmError  # noqa: F401
    from nnpm.package.manifest import Manifest  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nnpm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
