"""`nnpm registry add | list | remove | default`."""

from __future__ import annotations

import click

from nnpm.cli.output import emit_json, info, json_option
from nnpm.errors import UsageError


@click.group()
def registry() -> None:
    """Manage named registries ($NNPM_HOME/config.toml). "local" is the embedded default."""


def _url(_ctx: click.Context, _param: click.Parameter, url: str) -> str:
    """The URL forms `add_registry` accepts, checked while parsing: another is bad usage (exit 2)."""
    if not url.startswith(("hf://", "oci://", "file://", "/", "~")):
        raise UsageError(f"unsupported registry URL {url!r}", where="nnpm registry add",
                         hint="use an absolute directory path, file:///path, hf://<hub-namespace> or oci://host[:port]/path")  # fmt: skip
    return url


@registry.command("add")
@click.argument("name")
@click.argument("url", callback=_url)
@click.option("--endpoint", help="Hub API endpoint for hf:// registries (default: the client's HF_ENDPOINT).")
@click.option(
    "--default", "make_default", is_flag=True, help="Use this registry when --registry is not given."
)
@click.option("--replace", is_flag=True, help="Overwrite a registry already configured under NAME.")
@click.option("--insecure", is_flag=True,
              help="oci:// only: allow plain HTTP to a host that is not loopback (a trusted internal network).")  # fmt: skip
def add(name: str, url: str, endpoint: str | None, make_default: bool, replace: bool, insecure: bool) -> None:
    """Add registry NAME at URL: a directory (or file:///path), hf://<hub-namespace> or oci://host[:port]/path."""
    from nnpm.registry.config import add_registry

    if endpoint and not url.startswith("hf://"):
        raise UsageError(f"--endpoint applies only to hf:// registries, not {url}", where="nnpm registry add",
                         hint="drop --endpoint: a directory registry has no API endpoint")  # fmt: skip
    if insecure and not url.startswith("oci://"):
        raise UsageError(f"--insecure applies only to oci:// registries, not {url}", where="nnpm registry add",
                         hint="drop --insecure")  # fmt: skip

    cfg = add_registry(
        name, url, endpoint=endpoint, make_default=make_default, replace=replace, insecure=insecure
    )
    info(f"added registry {cfg.name} -> {cfg.url}" + (" (default)" if make_default else ""))


@registry.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List configured registries; the default is marked with *."""
    from nnpm.registry.config import default_name, registries

    found, default = registries(), default_name()
    if as_json:
        emit_json([{"name": c.name, "url": c.url, "endpoint": c.endpoint, "default": c.name == default}
                   for c in found.values()])  # fmt: skip
        return
    for cfg in found.values():
        mark = "*" if cfg.name == default else " "
        click.echo(f"{mark} {cfg.name}  {cfg.url}" + (f"  (endpoint {cfg.endpoint})" if cfg.endpoint else ""))


@registry.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Forget registry NAME (its packages stay where they are)."""
    from nnpm.registry.config import remove_registry

    remove_registry(name)
    info(f"removed registry {name}")
