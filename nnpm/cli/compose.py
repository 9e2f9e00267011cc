"""`nnpm compose` and `nnpm eval`."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli.output import emit_json, info, json_option

dataset_option = click.option(
    "--dataset",
    help="Image dataset: digits, mnist, fashion-mnist, cifar10, svhn. Sequence packages are measured on "
    "the dataset recorded in their provenance (brown, chatterbot-lang, chatterbot-topic, num2words).",
)
data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                               help="Folder with the dataset's standard files (default: its usual place).")  # fmt: skip


@click.command()
@click.argument("modules", nargs=-1, required=True)
@click.option("-o", "--output", "name", required=True, help="Name of the composite package (namespace/name).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write it (default: ./NAME).")  # fmt: skip
@click.option("--version", default="1.0.0", show_default=True)
@click.option("--replace", "replacements", multiple=True, metavar="CLASS=MODULE",
              help="Serve CLASS with MODULE instead (repeatable).")  # fmt: skip
@dataset_option
@data_dir_option
@click.option(
    "--finetune", is_flag=True, help="Fit the composite's per-class score correction (needs --dataset)."
)
@click.option("--epochs", default=50, show_default=True, help="Fine-tuning epochs (selected on validation).")
@click.option("--seed", default=0, show_default=True)
@json_option
def compose(
    modules, name, directory, version, replacements, dataset, data_dir, finetune, epochs, seed, as_json
):
    """Assemble installed MODULES (or composites) into a composite package, without training.

    With --dataset the composite is evaluated on the test split and the accuracy is
    recorded in its manifest; with --replace, per-class precision and recall are
    printed before and after the replacement."""
    from nnpm import api
    from nnpm.composition import workflow

    report = api.compose_package(
        list(modules), name=name, out=directory or Path(name), version=version,
        replace=workflow.parse_replacements(replacements), dataset=dataset, data_dir=data_dir,
        finetune=finetune, epochs=epochs, seed=seed,
    )  # fmt: skip
    info(f"wrote {report.manifest.id} ({len(report.manifest.source.classes)} classes) to {report.directory}")
    if as_json:
        emit_json(report.to_dict())
        return
    if report.after is not None:
        click.echo(f"accuracy on {report.after.dataset} {report.after.split}: {report.after.value:.4f} "
                   f"({report.after.samples} samples of its classes)")  # fmt: skip
    if report.before is not None:
        click.echo(workflow.precision_recall_table(report.before, report.after))


@click.command("eval")
@click.argument("package")
@dataset_option
@data_dir_option
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "val", "test"]))
@click.option(
    "--tolerance", default=0.01, show_default=True, help="Allowed shortfall against the manifest's claim."
)
@json_option
def eval_(package, dataset, data_dir, split, tolerance, as_json):
    """Recompute a package's accuracy (installed name or directory) and compare it with its claim.

    Exits 1 when the measured value falls short of the claim by more than --tolerance."""
    import sys

    from nnpm import api
    from nnpm.composition import workflow

    result = api.evaluate(package, dataset=dataset, data_dir=data_dir, split=split)
    if as_json:
        emit_json(workflow.result_dict(result))
    else:
        claim = "no claim" if result.claimed is None else f"claimed {result.claimed:.4f}"
        click.echo(f"{result.package} ({result.kind}): {result.metric} {result.value:.4f} on {result.dataset} "
                   f"{result.split}, {result.samples} samples; {claim}")  # fmt: skip
        if result.per_class:
            click.echo(workflow.precision_recall_table(None, result))
    if result.claimed is not None and result.shortfall > tolerance:
        click.echo(f"nnpm: error: {result.package}: measured {result.value:.4f} is {result.shortfall:.4f} below the "
                   f"claimed {result.claimed:.4f} (tolerance {tolerance}) (hint: the package does not hold up "
                   "on this data; check --dataset/--data-dir or report it to its author)", err=True)  # fmt: skip
        sys.exit(1)
