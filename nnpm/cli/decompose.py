"""`nnpm decompose`: cut a trained RNN model package into module packages (thin layer over the library)."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli.output import emit_json, json_option
from nnpm.cli.params import refuse


@click.command()
@click.argument("model_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for the module package folders.")  # fmt: skip
@click.option("--mode", type=click.Choice(["refit", "paper"]), default="refit", show_default=True,
              help="refit: our rolled mode (calibrated, refit output); paper: the reported rolled method.")  # fmt: skip
@click.option(
    "--cap",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Largest share of a layer's units removed (default 0.2).",
)
@click.option(
    "--positives", type=click.IntRange(1), default=500, show_default=True, help="Positive samples per class."
)
@click.option(
    "--pool",
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Training sequences sampled for statistics.",
)
@click.option(
    "--refit-sequences",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Training sequences the refit mode fits each module's head on (and validation ones it calibrates on); "
    "many classes need more (docs/rnn.md).",
)
@click.option("--classes", default=None, help="Comma-separated classes or languages (default: all).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="Override the dataset folder recorded at training.",
)
@click.option(
    "--embedding-dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="Where the embedding package's directory is.",
)
@json_option
@click.pass_context
def decompose(ctx, **opts) -> None:
    """Decompose a trained RNN model package into one module package per class or target language."""
    from nnpm.cli.progress import TqdmProgress
    from nnpm.science.rnn.cli_support import FIGURES, decompose_command

    if opts["mode"] != "refit":
        refuse(ctx, "refit_sequences", "applies only with --mode refit")
    as_json = opts.pop("as_json")
    summary = decompose_command(reporter=TqdmProgress(), **opts)
    if as_json:
        emit_json(summary)
        return
    figures = [f"{key.replace('_', ' ')} {summary[key]:.4f}" for key in FIGURES if key in summary]
    click.echo(f"decomposed {summary['model']} into {len(summary['modules'])} modules in {summary['seconds']:.1f}s "
               f"({opts['mode']})" + (f"; {', '.join(figures)}" if figures else ""))  # fmt: skip
    for m in summary["modules"]:
        click.echo(f"  {m['name']}: {m['retained']}/{m['total']} units -> {m['dir']}")
