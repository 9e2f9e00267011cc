"""`nnpm compose` and `nnpm eval`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nnpm.cli import params
from nnpm.cli.output import emit_json, info, json_option
from nnpm.errors import UsageError

data_dir_option = click.option("--data-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                               help="Folder with the dataset's standard files (default: its usual place).")  # fmt: skip


@click.command()
@click.argument("modules", nargs=-1, required=True)
@click.option("--name", required=True, callback=params.package_name,
              help="Package name of the composite (namespace/name).")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write it to (default: ./NAME, after the name's last part, e.g. ./footwear).")  # fmt: skip
@click.option("--version", default="1.0.0", show_default=True, callback=params.version)
@click.option("--replace", "replacements", multiple=True, metavar="CLASS=MODULE", callback=params.replacements,
              help="Serve CLASS with MODULE instead: a package name or a ./directory (repeatable).")  # fmt: skip
@click.option("--dataset", callback=params.any_dataset,
              help="Evaluate on this dataset's test split and record the accuracy: digits, mnist, fashion-mnist, "
              "cifar10, svhn; for sequence modules the dataset they were made on.")  # fmt: skip
@data_dir_option
@click.option(
    "--finetune", is_flag=True, help="Fit the composite's per-class score correction (needs --dataset)."
)
@click.option("--epochs", default=50, show_default=True, type=click.IntRange(1),
              help="Fine-tuning epochs (selected on validation; with --finetune).")  # fmt: skip
@click.option(
    "--seed", default=0, show_default=True, help="Seed of the fine-tuning and its validation split."
)
@json_option
@click.pass_context
def compose(
    ctx, modules, name, out, version, replacements, dataset, data_dir, finetune, epochs, seed, as_json
):
    """Assemble MODULES (installed names, composites, or package directories written ./dir) into a
    composite package, without training, written to the folder --out.

    With --dataset the composite is evaluated on the test split and the accuracy is
    recorded in its manifest; with --replace, per-class precision and recall are
    printed before and after the replacement."""
    from nnpm import api

    if finetune and not dataset:
        raise UsageError("--finetune needs --dataset", where=ctx.command_path,
                         hint="e.g. --finetune --dataset fashion-mnist --epochs 50")  # fmt: skip
    if not dataset:
        params.refuse(
            ctx, "data_dir", "applies only with --dataset", hint="add --dataset, or drop --data-dir"
        )
    if not finetune:
        for option in ("epochs", "seed"):
            params.refuse(ctx, option, "applies only with --finetune")
    report = api.compose_package(
        list(modules), name=name, out=out, version=version, replace=replacements, dataset=dataset,
        data_dir=data_dir, finetune=finetune, epochs=epochs, seed=seed,
    )  # fmt: skip
    info(f"wrote {report.manifest.id} ({len(report.manifest.source.classes)} classes) to {report.directory}")
    if as_json:
        emit_json(report.to_dict())
        return
    if report.after is not None:
        click.echo(f"{report.after.metric} on {report.after.dataset} {report.after.split}: {report.after.value:.4f} "
                   f"({report.after.samples} samples of its classes)")  # fmt: skip
    if report.before is not None:
        from nnpm.composition.workflow import precision_recall_table

        click.echo(precision_recall_table(report.before, report.after))


@click.command("eval")
@click.argument("package")
@click.option("--dataset", callback=params.any_dataset,
              help="Image dataset: digits, mnist, fashion-mnist, cifar10, svhn (default: the manifest's claim). "
              "Sequence packages are measured on the dataset recorded in their provenance.")  # fmt: skip
@data_dir_option
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "val", "test"]))
@click.option("--tolerance", default=0.01, show_default=True, type=click.FloatRange(0),
              help="Allowed shortfall against the manifest's claim.")  # fmt: skip
@json_option
def eval_(package, dataset, data_dir, split, tolerance, as_json):
    """Recompute a package's accuracy (installed name, or a package directory ./dir) and compare it
    with its claim.

    Exits 1 when the measured value falls short of the claim by more than --tolerance (with --json,
    the result says so: "passed": false)."""
    from nnpm import api
    from nnpm.composition.workflow import precision_recall_table, result_dict

    result = api.evaluate(package, dataset=dataset, data_dir=data_dir, split=split)
    passed = result.claimed is None or result.shortfall <= tolerance
    if as_json:
        emit_json({**result_dict(result), "tolerance": tolerance, "passed": passed})
    else:
        claim = "no claim" if result.claimed is None else f"claimed {result.claimed:.4f}"
        click.echo(f"{result.package} ({result.kind}): {result.metric} {result.value:.4f} on {result.dataset} "
                   f"{result.split}, {result.samples} samples; {claim}")  # fmt: skip
        click.echo(f"  data: {_sameness(result)}")
        if result.per_class:
            click.echo(precision_recall_table(None, result))
    if not passed:
        click.echo(f"nnpm: error: {result.package}: measured {result.value:.4f} is {result.shortfall:.4f} below the "
                   f"claimed {result.claimed:.4f} (tolerance {tolerance}) (hint: the package does not hold up "
                   "on this data; check --dataset/--data-dir or report it to its author)", err=True)  # fmt: skip
        sys.exit(1)


def _sameness(result) -> str:
    digest = f"{result.split} split sha256 {result.data_sha256[:12]}"
    if result.same_data is None:
        return f"{digest}; the package records no data digest, so whether the claim was measured on it is unknown"
    if result.same_data:
        return f"{digest}, the examples its claim was measured on"
    return f"{digest}: NOT the examples its claim was measured on (another copy, source or split of the data)"
