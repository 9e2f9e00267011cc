"""Number translation generated with num2words (PyPI `num2words`, LGPL): digits -> words.

Source: the digits of a number, one token per character. Target: its spelling in one language,
one token per character (German, Dutch and Italian write numbers as single compound words, so
characters are the unit shared by every language). The decoder is told the language by a start
token `<2xx>`. Numbers, not pairs, are split 80/10/10 (seeded), so a test number is never seen in
training in any language. Language tokens for every supported language are reserved in the
vocabulary, so that a model trained later on the same embedding can add a language.
"""

from __future__ import annotations

import torch

from nnpm.datasets.text import IGNORE, TextData, TextSplit
from nnpm.datasets.tokenize import LEGACY
from nnpm.datasets.vocab import Vocab, pad_batch
from nnpm.errors import DataError

SUPPORTED = ("de", "en", "es", "fr", "it", "nl", "pt")
EOS = "<eos>"
MAX_NUMBER = 1000
SPLIT_SEED = 0


def language_token(lang: str) -> str:
    return f"<2{lang}>"


def spell(n: int, lang: str) -> str:
    try:
        from num2words import num2words
    except ImportError:
        raise DataError(
            "num2words is not installed",
            hint="install the text extras: pip install -e '.[text]' in nnpm's clone",
        ) from None
    return num2words(n, lang=lang)


def load(*, languages=("fr", "de", "it"), max_number: int = MAX_NUMBER, seed: int = SPLIT_SEED, max_len: int = 40,
         vocab: Vocab | None = None, vocab_languages=None, limit: int | None = None) -> TextData:  # fmt: skip
    """Pairs (digits, spelling) for every number below `max_number` and every language in `languages`.

    The character vocabulary is fitted on the training numbers' spellings in `vocab_languages`
    (default: `languages`) unless an existing `vocab` is given."""
    languages = tuple(languages)
    unknown = sorted(set(languages) - set(SUPPORTED))
    if unknown:
        raise DataError(f"unsupported languages {unknown} (supported: {', '.join(SUPPORTED)})")
    gen = torch.Generator().manual_seed(seed)
    numbers = torch.randperm(max_number, generator=gen)
    if limit is not None:
        numbers = numbers[:limit]
    n_test = n_val = max(1, len(numbers) // 10)
    parts = {
        "test": numbers[:n_test],
        "val": numbers[n_test : n_test + n_val],
        "train": numbers[n_test + n_val :],
    }
    fitted = vocab is None
    if vocab is None:
        texts = [
            list(spell(int(n), lang))
            for lang in (vocab_languages or languages)
            for n in parts["train"].tolist()
        ]
        reserved = ("<pad>", "<unk>", EOS, *(language_token(lang) for lang in SUPPORTED), *"0123456789")
        vocab = Vocab.fit(texts, reserved=reserved)
    splits = {name: _encode(nums, languages, vocab, max_len) for name, nums in parts.items()}
    return TextData(
        name="num2words",
        task="translate",
        classes=languages,
        vocab=vocab,
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        max_len=max_len,
        groups=languages,
        split_note=(
            f"numbers 0..{max_number - 1} split 80/10/10 by number (split seed {seed}), targets in {', '.join(languages)}; "
            f"characters, at most {max_len}; "
            + (f"vocabulary of {len(vocab)} from train" if fitted else f"given vocabulary of {len(vocab)}")
        ),
        format="generated",
        meta={
            "eos_id": vocab.id(EOS),
            "language_tokens": tuple(language_token(lang) for lang in languages),
            "tokenizer": dict(LEGACY["num2words"]),
        },
    )


def _encode(numbers: torch.Tensor, languages, vocab: Vocab, max_len: int) -> TextSplit:
    src, tgt, group = [], [], []
    for li, lang in enumerate(languages):
        for n in numbers.tolist():
            src.append(vocab.encode(list(str(n))))
            tgt.append(vocab.encode(list(spell(n, lang))[: max_len - 1] + [EOS]))
            group.append(li)
    return TextSplit(pad_batch(src, 8), pad_batch(tgt, max_len, IGNORE), torch.tensor(group))
