"""`nnpm train rnn`: train a monolithic RNN and package it with its embedding (thin layer over the library)."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli import params
from nnpm.cli.output import emit_json, json_option
from nnpm.errors import UsageError


@click.group()
def train() -> None:
    """Train a monolithic model and package it."""


def _embedding_spec(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """NAME==VERSION, exactly one version: the embedding a new model is trained on."""
    from nnpm.package.naming import Requirement

    if value is not None:
        req = Requirement.parse(value, where="--embedding")
        if len(req.specifier) != 1 or next(iter(req.specifier)).operator != "==":
            raise UsageError(f"{value!r} is not NAME==VERSION", where="--embedding",
                             hint="e.g. --embedding brown/embedding==1.0.0")  # fmt: skip
    return value


@train.command("rnn")
@click.option("--cell", type=click.Choice(["rnn", "lstm", "gru"]), default="lstm", show_default=True)
@click.option("--layers", type=click.IntRange(1, 4), default=1, show_default=True)
@click.option("--hidden", type=click.IntRange(1), default=100, show_default=True)
@click.option("--embedding-dim", type=click.IntRange(1), default=None,
              help="Width of a new embedding (default 100); an existing one, --embedding, has its own.")  # fmt: skip
@click.option("--task", type=click.Choice(["tag", "classify", "translate"]), required=True)
@click.option("--dataset", required=True, callback=params.text_dataset,
              help="brown or conllu (tag), chatterbot-lang or chatterbot-topic (classify), num2words (translate), "
                   "tsv (classify: columns text, label; translate: source, target, language).")  # fmt: skip
@click.option("--data-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="brown: a folder in NLTK layout; conllu: *-ud-{train,dev,test}.conllu or one *.conllu; tsv: "
                   "{train,dev,test}.tsv or one .tsv/.csv (the other datasets come with their Python packages).")  # fmt: skip
@click.option("--case", type=click.Choice(["casefold", "casefold-tr", "lower", "keep"]), default=None,
              help="How words are case-folded (default: casefold for conllu and tsv, the dataset's own rule for the "
                   "others; casefold-tr: Turkish dotted/dotless i). Recorded in the embedding package.")  # fmt: skip
@click.option("--tag-column", type=click.Choice(["upos", "xpos"]), default=None,
              help="conllu: the column read as tags (default upos).")  # fmt: skip
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="conllu, tsv: the declared labels, one per line (or raw<TAB>label to map); any other is an error.")  # fmt: skip
@click.option("--tokens", type=click.Choice(["words", "whitespace", "characters"]), default=None,
              help="tsv: how text is cut into tokens (default: words to classify, characters to translate).")  # fmt: skip
@click.option("--languages", default=None, help="translate: target languages, e.g. fr,de,it")
@click.option(
    "--namespace", required=True, callback=params.namespace, help="Namespace of the packages written."
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the package folders.")  # fmt: skip
@click.option("--embedding", "embedding_spec", default=None, callback=_embedding_spec,
              help="Train on an existing embedding package, NAME==VERSION (kept frozen).")  # fmt: skip
@click.option("--embedding-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Where that embedding package's directory is (with --embedding).")  # fmt: skip
@click.option("--epochs", type=click.IntRange(1), default=3, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=2e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--max-len", type=click.IntRange(2), default=None, help="Longest sequence (default: the dataset's)."
)
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Use a stratified subset of this many sequences."
)
@click.option("--version", "version", default="1.0.0", show_default=True, callback=params.version)
@json_option
@click.pass_context
def rnn(ctx, **opts) -> None:
    """Train a vanilla RNN, LSTM or GRU on an embedding; write <out>/embedding and <out>/<cell>-<role>."""
    from nnpm.cli.progress import TqdmProgress
    from nnpm.datasets.text_loaders import NEEDS_DIR
    from nnpm.science.rnn.cli_support import DATA_OPTIONS, TASK_OF, train_command

    task, dataset = opts["task"], opts["dataset"]
    if task not in TASK_OF[dataset]:
        tasks = " or ".join(TASK_OF[dataset])
        raise UsageError(f"dataset {dataset!r} is for --task {tasks}, not {task}",
                         where=ctx.command_path, hint=f"pass --task {tasks}")  # fmt: skip
    if task != "translate":
        params.refuse(ctx, "languages", "applies only with --task translate")
    if dataset in NEEDS_DIR and opts["data_dir"] is None:
        raise UsageError(f"{dataset} needs --data-dir: {NEEDS_DIR[dataset]}", where=ctx.command_path,
                         hint="docs/datasets.md says how to get or write each dataset")  # fmt: skip
    if dataset not in NEEDS_DIR:
        params.refuse(ctx, "data_dir", f"does not apply to {dataset}, which comes with its Python package")
    for key, datasets in DATA_OPTIONS.items():
        if dataset not in datasets:
            params.refuse(ctx, key, f"does not apply to {dataset} (only to {', '.join(datasets)})")
    if not opts["embedding_spec"]:
        params.refuse(ctx, "embedding_dir", "applies only with --embedding")
    as_json = opts.pop("as_json")
    summary = train_command(reporter=TqdmProgress(), **opts)
    if as_json:
        emit_json(summary)
        return
    click.echo(f"trained {summary['model']}: test {summary['metric']} {summary['accuracy']:.4f}; "
               f"{summary['epochs']} epochs, {summary['seconds']:.1f}s ({summary['split']})")  # fmt: skip
    click.echo(f"  model -> {summary['model_dir']}")
    where = "existing, frozen" if summary["embedding_frozen"] else f"-> {summary['embedding_dir']}"
    click.echo(f"  embedding {summary['embedding']} (sha256 {summary['embedding_sha256'][:12]}) {where}")
