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
    default="auto",
    show_default=True,
    help="Largest share of a layer's units a module drops, or auto: the largest of 0.2, 0.15, 0.1, 0.05 whose "
    "composite stays within 0.5 points of the model on validation (translators: 0.05).",
)
@click.option(
    "--positives", type=click.IntRange(1), default=500, show_default=True, help="Positive samples per class."
)
@click.option(
    "--pool",
    type=click.IntRange(1),
    default=None,
    help="Training sequences sampled for statistics (default: 2,000 for tagging, --per-class per class for "
    "classification).",
)
@click.option(
    "--refit-sequences",
    type=click.IntRange(1),
    default=None,
    help="Training sequences the refit mode fits each module's head on (and validation ones it calibrates on); "
    "default: 1,000 for tagging, --per-class per class for classification.",
)
@click.option(
    "--per-class",
    type=click.IntRange(1),
    default=None,
    help="Classifiers: training sequences of each class read for statistics and refit (default 160, "
    "chosen on validation: docs/rnn.md).",
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
    if opts["pool"] is not None and opts["refit_sequences"] is not None:
        refuse(ctx, "per_class", "has no effect with both --pool and --refit-sequences given")
    as_json = opts.pop("as_json")
    summary = decompose_command(reporter=TqdmProgress(), **opts)
    if as_json:
        emit_json(summary)
        return
    figures = [f"{key.replace('_', ' ')} {summary[key]:.4f}" for key in FIGURES if key in summary]
    cap = f"; cap {summary['cap']} ({summary['cap_rule']})" if "cap" in summary else ""
    click.echo(f"decomposed {summary['model']} into {len(summary['modules'])} modules in {summary['seconds']:.1f}s "
               f"({opts['mode']})" + (f"; {', '.join(figures)}" if figures else "") + cap)  # fmt: skip
    for m in summary["modules"]:
        click.echo(f"  {m['name']}: {m['retained']}/{m['total']} units -> {m['dir']}")
