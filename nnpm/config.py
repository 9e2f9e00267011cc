"""Every environment variable nnpm reads, in one place, and the settings they make.

`Settings.from_env()` reads the environment when it is called, not at import, so that
tests and long-lived processes see a changed environment; a `nnpm.Client` built with
explicit arguments overrides it and reads no variable it was given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Environment variables and what they do (documented in docs/cli.md).
ENVIRONMENT = {
    "NNPM_HOME": "nnpm's home: store, embedded registry and config.toml (default ~/.nnpm)",
    "NNPM_REGISTRY": "name of the registry used when --registry is not given",
    "NNPM_OFFLINE": "1 = never touch the network (HF_HUB_OFFLINE=1 does the same)",
    "NNPM_LOCK_TIMEOUT": "seconds to wait for another nnpm process's store lock (default 600)",
    "NNPM_HUB_TIMEOUT": "seconds before a Hub API request times out, and the base of each download's deadline "
    "(plus its size at 64 KiB/s; the CLI sets 30; unset: the client's default)",
    "NNPM_OCI_TOKEN": "a bearer token for OCI registries, sent to the registry's host only (read by "
    "nnpm.registry.oci.auth when a registry asks for credentials)",
    "NNPM_OCI_USERNAME": "with NNPM_OCI_PASSWORD: the account for OCI registries (read as NNPM_OCI_TOKEN is)",
    "NNPM_OCI_PASSWORD": "the password (or identity token) of NNPM_OCI_USERNAME",
    "NNPM_TEST_CRASH_AT": "tests only: SIGKILL the process at a named point of a store write (crash_point)",
}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _float(value: str | None, default: float | None) -> float | None:
    try:
        return float(value) if value else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    """Where nnpm keeps its files and how it behaves; one value per environment variable."""

    home: Path
    registry: str | None = None
    offline: bool = False
    lock_timeout: float = 600.0
    hub_timeout: float | None = None

    @classmethod
    def from_env(
        cls, *, home: Path | str | None = None, registry: str | None = None, offline: bool | None = None
    ) -> Settings:
        """The environment's settings, with any argument given taking precedence over its variable."""
        env = os.environ
        return cls(
            home=Path(home or env.get("NNPM_HOME") or Path.home() / ".nnpm").expanduser(),
            registry=registry or env.get("NNPM_REGISTRY") or None,
            offline=offline if offline is not None else (
                _truthy(env.get("NNPM_OFFLINE")) or _truthy(env.get("HF_HUB_OFFLINE"))
            ),
            lock_timeout=_float(env.get("NNPM_LOCK_TIMEOUT"), 600.0) or 600.0,
            hub_timeout=_float(env.get("NNPM_HUB_TIMEOUT"), None),
        )  # fmt: skip

    @property
    def registry_dir(self) -> Path:
        """The embedded local registry that needs no configuration."""
        return self.home / "registry"

    @property
    def store_dir(self) -> Path:
        """Where installed packages and their content-addressed blobs live."""
        return self.home / "store"

    @property
    def config_file(self) -> Path:
        return self.home / "config.toml"

    @property
    def validated_dir(self) -> Path:
        """Markers of the documents that passed their schema (nnpm.package.validated); safe to delete."""
        return self.home / "cache" / "validated"


def home() -> Path:
    return Settings.from_env().home


def default_registry_dir() -> Path:
    return Settings.from_env().registry_dir


def store_dir() -> Path:
    return Settings.from_env().store_dir


def config_file() -> Path:
    return Settings.from_env().config_file


def default_registry_name() -> str | None:
    return Settings.from_env().registry


def offline() -> bool:
    """True when nnpm must not touch the network."""
    return Settings.from_env().offline


def lock_timeout() -> float:
    return Settings.from_env().lock_timeout


def hub_timeout() -> float | None:
    return Settings.from_env().hub_timeout


def crash_point() -> str | None:
    """Tests only: the point (`fetched`, `staged`, ... or `point:namespace/name`) at which the store
    kills its own process (NNPM_TEST_CRASH_AT), so that crash tests kill at named places."""
    return os.environ.get("NNPM_TEST_CRASH_AT") or None
