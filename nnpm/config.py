"""Every environment variable nnpm reads, in one place.

Functions rather than module constants, so that tests (and long-lived processes)
see a changed environment without reloading modules.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variables and what they do (documented in docs/configuration.md).
ENVIRONMENT = {
    "NNPM_HOME": "nnpm's home: store, embedded registry and config.toml (default ~/.nnpm)",
    "NNPM_REGISTRY": "name of the registry used when --registry is not given",
    "NNPM_OFFLINE": "1 = never touch the network (HF_HUB_OFFLINE=1 does the same)",
    "NNPM_LOCK_TIMEOUT": "seconds to wait for another nnpm process's store lock (default 600)",
    "NNPM_HUB_TIMEOUT": "seconds before a Hub API request times out (the CLI sets 30; unset: the client's default)",
}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def home() -> Path:
    """nnpm's home directory, created on first use."""
    path = Path(os.environ.get("NNPM_HOME") or Path.home() / ".nnpm").expanduser()
    return path


def default_registry_dir() -> Path:
    """The embedded local registry that needs no configuration."""
    return home() / "registry"


def store_dir() -> Path:
    """Where installed packages and their content-addressed blobs live."""
    return home() / "store"


def config_file() -> Path:
    return home() / "config.toml"


def default_registry_name() -> str | None:
    return os.environ.get("NNPM_REGISTRY") or None


def offline() -> bool:
    """True when nnpm must not touch the network."""
    return _truthy(os.environ.get("NNPM_OFFLINE")) or _truthy(os.environ.get("HF_HUB_OFFLINE"))


def lock_timeout() -> float:
    try:
        return float(os.environ.get("NNPM_LOCK_TIMEOUT", "600"))
    except ValueError:
        return 600.0


def hub_timeout() -> float | None:
    value = os.environ.get("NNPM_HUB_TIMEOUT")
    try:
        return float(value) if value else None
    except ValueError:
        return None
