"""`nnpm quickstart`."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli.output import emit_json, info, json_option
from nnpm.cli.package import registry_option


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("nnpm-quickstart"),
              show_default=True, help="Where the built packages are written.")  # fmt: skip
@registry_option
@json_option
def quickstart(workdir: Path, registry: str | None, as_json: bool) -> None:
    """Train, package, publish, install, load and evaluate, on data bundled with nnpm."""
    from nnpm.quickstart import run_quickstart

    result = run_quickstart(workdir, registry=registry, say=info)
    if as_json:
        emit_json({"package": result.package, "registry": result.registry, "test_accuracy": result.test_accuracy,
                   "claimed_accuracy": result.claimed_accuracy, "seconds": round(result.seconds, 2)})  # fmt: skip
    else:
        click.echo(f"{result.package}: test accuracy {result.test_accuracy:.4f} "
                   f"(claimed {result.claimed_accuracy:.4f}), {result.seconds:.1f} s end to end")  # fmt: skip
