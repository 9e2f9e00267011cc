"""`nnpm quickstart`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from nnpm.cli.output import emit_json, info, json_option
from nnpm.cli.package import registry_option


@click.command()
@click.option("--out", "--workdir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder the packages are built in (--workdir: the same).  [default: $NNPM_HOME/quickstart]")  # fmt: skip
@registry_option
@json_option
def quickstart(workdir: Path | None, registry: str | None, as_json: bool) -> None:
    """Modularize a small CNN on bundled digits, publish its modules, install two, compose them, evaluate.

    A rerun reuses the packages the first run published (version 1.0.0): it trains and
    publishes nothing new."""
    from nnpm.api.quickstart import run_quickstart

    result = run_quickstart(workdir, registry=registry, say=info)
    if as_json:
        emit_json(asdict(result))
        return
    click.echo(f"model {result.model}: standard accuracy {result.standard_accuracy:.4f}, "
               f"modular {result.modular_accuracy:.4f}")  # fmt: skip
    for module in result.modules:
        click.echo(f"module {module.package}: unit retention {module.retention:.1%}, "
                   f"{module.parameter_share:.1%} of the model's parameters, "
                   f"balanced accuracy {module.balanced_accuracy:.4f}")  # fmt: skip
    click.echo(f"composite {result.composite} ({result.composite_mode}): accuracy {result.composite_accuracy:.4f}; "
               f"{result.seconds:.0f} s end to end")  # fmt: skip
    click.echo("")
    click.echo(f"built in:     {result.workdir}" + ("" if result.trained else " (reused, nothing retrained)"))
    count = len(result.published)
    published = f"{count} new package{'s' * (count != 1)}" if count else "nothing new (all reused)"
    click.echo(f"published:    {published} to {result.registry_location}")
    click.echo(f"installed in: {result.store}")
    click.echo("")
    click.echo("What next:")
    for command in result.next_commands:
        click.echo(f"  {command}")
