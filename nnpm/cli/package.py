"""`nnpm pack` and `nnpm publish`."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli.output import emit_json, info, json_option
from nnpm.errors import UsageError

registry_option = click.option("--registry", "-r", help="Registry name (see `nnpm registry list`).")


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--hub-namespace", help="Name the source model's repo in this Hub namespace as the card's base_model."
)
@json_option
def pack(directory: Path, hub_namespace: str | None, as_json: bool) -> None:
    """Render README.md, hash every file into nnpm.toml's [files] and check the weights."""
    from nnpm import api

    manifest = api.pack(directory, hub_namespace=hub_namespace)
    info(f"packed {manifest.id}: {len(manifest.files)} files, manifest sha256 {manifest.digest()}")
    if as_json:
        emit_json({"package": str(manifest.name), "version": str(manifest.version), "sha256": manifest.digest(),
                   "files": {rel: {"size": e.size, "sha256": e.sha256} for rel, e in manifest.files.items()}})  # fmt: skip


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@registry_option
@json_option
def publish(paths: tuple[Path, ...], registry: str | None, as_json: bool) -> None:
    """Publish packed package directories (dependencies first when several are given).

    Plain files among PATHS are skipped, so `nnpm publish build/fmnist/*` works beside a results file."""
    from nnpm import api

    directories = [p for p in paths if p.is_dir()]
    if not directories:
        raise UsageError(
            "no package directory among the paths given", hint="publish a packed package directory"
        )
    for path in paths:
        if not path.is_dir():
            info(f"skipped {path}: not a package directory")
    results = api.publish_all(directories, registry=registry)
    for result in results:
        state = "published" if result.created else "already published (identical content)"
        info(f"{state}: {result.manifest.id} -> {result.registry} (sha256 {result.sha256[:12]})")
    if as_json:
        emit_json(
            [
                {"package": str(r.manifest.name), "version": str(r.manifest.version), "registry": r.registry,
                 "sha256": r.sha256, "created": r.created, "revision": r.revision}
                for r in results
            ]
        )  # fmt: skip
