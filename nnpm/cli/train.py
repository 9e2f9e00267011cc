"""`nnpm train rnn`: train a monolithic RNN and package it with its embedding (thin layer over the library)."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli.output import emit_json, info, is_quiet, json_option


class TqdmReporter:
    """The library's progress hooks shown as tqdm bars on stderr (silent with -q)."""

    def __init__(self) -> None:
        self.bar = None

    def start(self, total: int, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, desc=desc, leave=False, disable=True if is_quiet() else None, dynamic_ncols=True
        )

    def advance(self, n: int = 1, **stats: float) -> None:
        if self.bar is not None:
            self.bar.update(n)
            if stats:
                self.bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()}, refresh=False)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@click.group()
def train() -> None:
    """Train a monolithic model and package it."""


@train.command("rnn")
@click.option("--cell", type=click.Choice(["rnn", "lstm", "gru"]), default="lstm", show_default=True)
@click.option("--layers", type=click.IntRange(1, 4), default=1, show_default=True)
@click.option("--hidden", type=click.IntRange(1), default=100, show_default=True)
@click.option("--embedding-dim", type=click.IntRange(1), default=100, show_default=True)
@click.option("--task", type=click.Choice(["tag", "classify", "translate"]), required=True)
@click.option("--dataset", required=True, help="brown, chatterbot-lang, chatterbot-topic or num2words")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Brown: a folder in NLTK layout."
)
@click.option("--languages", default=None, help="translate: target languages, e.g. fr,de,it")
@click.option("--namespace", required=True, help="Namespace of the packages written.")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Directory for the package directories."
)
@click.option(
    "--embedding",
    "embedding_spec",
    default=None,
    help="Train on an existing embedding package, NAME==VERSION (kept frozen).",
)
@click.option(
    "--embedding-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where that embedding package's directory is.",
)
@click.option("--epochs", type=click.IntRange(1), default=3, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--max-len", type=click.IntRange(2), default=None, help="Longest sequence (default: the dataset's)."
)
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Use a stratified subset of this many sequences."
)
@click.option("--version", "version", default="1.0.0", show_default=True)
@json_option
def rnn(**opts) -> None:
    """Train a vanilla RNN, LSTM or GRU on an embedding; write <out>/embedding and <out>/<cell>-<role>."""
    from nnpm.science.rnn.cli_support import train_command

    as_json = opts.pop("as_json")
    summary = train_command(reporter=TqdmReporter(), **opts)
    if as_json:
        emit_json(summary)
    else:
        for line in summary["lines"]:
            info(line)
