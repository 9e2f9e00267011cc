"""Named registries, kept in $NNPM_HOME/config.toml.

    default = "local"

    [registries.local]
    url = "/home/me/.nnpm/registry"      # a directory (or file://...): a LocalRegistry

    [registries.hub]
    url = "hf://my-org"                  # a Hugging Face Hub namespace: a HubRegistry
    endpoint = "http://127.0.0.1:8080"   # optional: another Hub endpoint

    [registries.team]
    url = "oci://registry.example.com/ml-team"   # an OCI registry: an OciRegistry
    insecure = true                      # optional: plain HTTP to a non-loopback host

The registry named "local" always exists: it is the embedded default at
$NNPM_HOME/registry unless config.toml points it elsewhere.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from nnpm.config import Settings
from nnpm.errors import ConfigError, LockTimeoutError, ManifestError
from nnpm.fsutil import atomic_write_text
from nnpm.package.files import parse_toml, read_text_file
from nnpm.package.naming import validate_part
from nnpm.registry.base import Registry

DEFAULT_NAME = "local"


@dataclass(frozen=True)
class RegistryConfig:
    name: str
    url: str
    endpoint: str | None = None
    insecure: bool = False

    @property
    def scheme(self) -> str:
        return "hf" if self.url.startswith("hf://") else "oci" if self.url.startswith("oci://") else "file"


def settings_or_env(settings: Settings | None) -> Settings:
    """The given settings, or the environment's (NNPM_HOME and friends) when none are given."""
    return settings or Settings.from_env()


def read_config(settings: Settings | None = None) -> dict:
    """config.toml as a dict; read like every nnpm file (regular file, size and nesting caps), so a
    FIFO or a hostile document there is one ConfigError instead of a hang or a RecursionError."""
    path = settings_or_env(settings).config_file
    if not path.exists():
        return {}
    try:
        return parse_toml(read_text_file(path), where=str(path))
    except ManifestError as exc:
        raise ConfigError(exc.what, where=str(path), hint="fix or delete the file") from None


def write_config(doc: dict, settings: Settings | None = None) -> None:
    """Replace config.toml with `doc`, atomically: a reader sees the old file or the new one."""
    import tomlkit  # writing only: reading is tomllib's, and tomlkit costs start-up

    atomic_write_text(settings_or_env(settings).config_file, tomlkit.dumps(doc))


@contextlib.contextmanager
def locked_config(settings: Settings | None = None) -> Iterator[None]:
    """Hold config.toml's lock (config.toml.lock beside it) around a read-modify-write of the file,
    so that concurrent `nnpm registry add` / `remove` never lose each other's entries."""
    from filelock import FileLock, Timeout  # only writers pay for it

    settings = settings_or_env(settings)
    path = settings.config_file.with_name(settings.config_file.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(path, timeout=settings.lock_timeout):
            yield
    except Timeout:
        raise LockTimeoutError(
            f"timed out after {settings.lock_timeout:g} s waiting for the config lock", where=str(path)
        ) from None


def registries(settings: Settings | None = None) -> dict[str, RegistryConfig]:
    """Every configured registry by name, "local" included."""
    settings = settings_or_env(settings)
    found = {DEFAULT_NAME: RegistryConfig(DEFAULT_NAME, str(settings.registry_dir))}
    for name, table in read_config(settings).get("registries", {}).items():
        if not isinstance(table, dict) or "url" not in table:
            raise ConfigError(
                f"registry {name!r} has no url",
                where=str(settings.config_file),
                hint=f"add `url = ...` to [registries.{name}], or `nnpm registry remove {name}`",
            )
        found[name] = RegistryConfig(
            name, str(table["url"]), table.get("endpoint"), table.get("insecure") is True
        )
    return found


def default_name(settings: Settings | None = None) -> str:
    settings = settings_or_env(settings)
    return settings.registry or read_config(settings).get("default", DEFAULT_NAME)


def get_config(name: str | None = None, settings: Settings | None = None) -> RegistryConfig:
    name = name or default_name(settings)
    known = registries(settings)
    if name not in known:
        raise ConfigError(
            f"unknown registry {name!r} (configured: {', '.join(sorted(known))})",
            hint=f"add it with `nnpm registry add {name} URL`",
        )
    return known[name]


def add_registry(
    name: str,
    url: str,
    *,
    endpoint: str | None = None,
    make_default: bool = False,
    replace: bool = False,
    insecure: bool = False,
    settings: Settings | None = None,
) -> RegistryConfig:
    """Add registry `name`; adding it again as it is changes nothing, and pointing a configured
    name elsewhere is refused unless `replace`."""
    validate_part(name, what="registry name")
    if not url.startswith(("hf://", "oci://", "file://", "/", "~")):
        raise ConfigError(
            f"unsupported registry URL {url!r}",
            hint="use an absolute directory path, file:///path, hf://<hub-namespace> or oci://host[:port]/path",
        )
    if url.startswith("hf://"):
        validate_hub_namespace(url)
    if url.startswith("oci://"):
        from nnpm.registry.oci.names import parse_oci_url

        parse_oci_url(url)
    table = {"url": url}
    if endpoint:
        table["endpoint"] = endpoint
    if insecure:
        table["insecure"] = True
    with locked_config(settings):
        doc = read_config(settings)
        existing = doc.get("registries", {}).get(name)
        if existing == table and not make_default:
            return RegistryConfig(name, url, endpoint, insecure)  # the same registry again: nothing to change
        if existing is not None and existing != table and not replace:
            old = existing.get("url") if isinstance(existing, dict) else existing
            raise ConfigError(
                f"registry {name!r} is already configured (url {old})",
                hint=f"pass --replace to point it at {url}, or `nnpm registry remove {name}` first",
            )
        doc.setdefault("registries", {})[name] = table
        if make_default:
            doc["default"] = name
        write_config(doc, settings)
    return RegistryConfig(name, url, endpoint, insecure)


def validate_hub_namespace(url: str) -> str:
    namespace = url.removeprefix("hf://").strip("/")
    if not namespace or "/" in namespace or not all(c.isalnum() or c in "-_." for c in namespace):
        raise ConfigError(f"invalid Hub namespace in {url!r}", hint="write hf://<user or organisation>")
    return namespace


def remove_registry(name: str, settings: Settings | None = None) -> None:
    with locked_config(settings):
        doc = read_config(settings)
        if name not in doc.get("registries", {}):
            raise ConfigError(
                f"registry {name!r} is not configured", hint="`nnpm registry list` shows the configured ones"
            )
        del doc["registries"][name]
        if doc.get("default") == name:
            del doc["default"]
        write_config(doc, settings)


def registry_for_url(url: str, settings: Settings | None = None) -> RegistryConfig:
    """The configured registry with this URL, adding one (named after it) if there is none."""
    for cfg in registries(settings).values():
        if cfg.url.rstrip("/") == url.rstrip("/"):
            return cfg
    base = re.sub(r"[^a-z0-9]+", "-", url.removeprefix("hf://").lower()).strip("-")[:60] or "hub"
    name = f"hf-{base}"
    return add_registry(name, url, replace=True, settings=settings)


def open_registry(name: str | None = None, settings: Settings | None = None) -> Registry:
    """The backend for a configured registry, chosen by its URL scheme."""
    settings = settings_or_env(settings)
    cfg = get_config(name, settings)
    if cfg.scheme == "hf":
        from nnpm.registry.hub import HubRegistry, set_request_timeout

        if settings.hub_timeout is not None:
            set_request_timeout(settings.hub_timeout)
        return HubRegistry(cfg.name, cfg.url, endpoint=cfg.endpoint, offline=settings.offline)
    if cfg.scheme == "oci":
        from nnpm.registry.oci import OciRegistry

        cache = settings.home / "cache" / "oci"
        return OciRegistry(
            cfg.name, cfg.url, insecure=cfg.insecure, offline=settings.offline, cache_dir=cache
        )
    from nnpm.registry.local import LocalRegistry

    return LocalRegistry(cfg.name, cfg.url, lock_timeout=settings.lock_timeout)


def open_registries(primary: str | None = None, settings: Settings | None = None) -> list[Registry]:
    """The primary registry first, then every other configured one (dependencies may cross registries)."""
    first = get_config(primary, settings).name
    names = [first] + [n for n in registries(settings) if n != first]
    return [open_registry(n, settings) for n in names]
