"""The library API: `Client`, and module-level functions bound to a default client.

The default client follows the environment (NNPM_HOME, NNPM_REGISTRY, NNPM_OFFLINE) at each
call; `nnpm.Client(home=..., registries=..., offline=...)` makes one that does not.
"""

from __future__ import annotations

from nnpm.api.client import Client
from nnpm.api.details import PackageDetails
from nnpm.api.paths import is_path_spec
from nnpm.api.science import decompose, modularize
from nnpm.progress import Progress

default_client = Client()


def __getattr__(name: str):
    if name == "InstallResult":  # imported on first use: the resolver and the lock cost start-up
        from nnpm.api.installing import InstallResult

        return InstallResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


load = default_client.load
install = default_client.install
uninstall = default_client.uninstall
publish = default_client.publish
publish_all = default_client.publish_all
pack = default_client.pack
lock = default_client.lock
verify = default_client.verify
sign = default_client.sign
search = default_client.search
show = default_client.show
list_installed = default_client.list_installed
resolve_installed = default_client.resolve_installed
compose = default_client.compose
compose_package = default_client.compose_package
evaluate = default_client.evaluate

__all__ = [
    "Client",
    "InstallResult",
    "PackageDetails",
    "Progress",
    "compose",
    "compose_package",
    "decompose",
    "default_client",
    "evaluate",
    "install",
    "is_path_spec",
    "list_installed",
    "load",
    "lock",
    "modularize",
    "pack",
    "publish",
    "publish_all",
    "resolve_installed",
    "search",
    "sign",
    "show",
    "uninstall",
    "verify",
]
