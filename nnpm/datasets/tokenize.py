"""How text becomes tokens: the case rule, the unit, Unicode normalisation, and where they are recorded.

A model, its modules and anything evaluated on them must cut text into the same tokens, so the rule a
dataset was read with travels in the embedding package (`architecture.params`: `case`, `tokens`,
`normalization`). An embedding package without those fields was made before they existed: it means
the dataset's own historical rule (`LEGACY`), so older packages still load and reproduce their figures.

Case rules:

- `casefold` (the default for datasets in users' own formats): Unicode case folding, `str.casefold()`.
  It folds more than `lower()` ("Straße" and "STRASSE" become one word) but is not locale-aware: Turkish
  dotted "İ" becomes "i̇" (i + combining dot above, U+0069 U+0307), dotless "ı" stays "ı", and "I"
  becomes "i"; so "İ"/"ı" words stay distinct from "i" words, but Turkish capital "I" merges into "i".
- `casefold-tr`: the Turkish and Azeri rule: "I" -> "ı" and "İ" -> "i" first, then case folding, so
  "ILIK" and "ılık" are one word and "İLİK" and "ilik" another.
- `lower`: `str.lower()`, what the Brown and chatterbot-topic loaders have always done (kept for them).
- `keep`: no change of case.

Text read from users' files is normalised to NFC first (`normalization = "NFC"`), so a letter written
precomposed or as base + combining mark is one token.
"""

from __future__ import annotations

import re
import unicodedata

from nnpm.errors import DataError

CASES = ("casefold", "casefold-tr", "lower", "keep")
#: token units: a file's own tokens (CoNLL-U FORM, Brown words), a regex word split, whitespace, characters
UNITS = ("given", "words", "whitespace", "characters")
DEFAULT_CASE = "casefold"
_WORD = re.compile(r"\w+|[^\w\s]")

#: The rule each built-in dataset has always used (embedding packages made before the fields existed).
LEGACY = {
    "brown": {"case": "lower", "tokens": "given", "normalization": "none"},
    "chatterbot-topic": {"case": "lower", "tokens": "words", "normalization": "none"},
    "chatterbot-lang": {"case": "keep", "tokens": "characters", "normalization": "none"},
    "num2words": {"case": "keep", "tokens": "characters", "normalization": "none"},
}
FIELDS = ("case", "tokens", "normalization")


def check_case(case: str, where: str = "--case") -> str:
    if case not in CASES:
        raise DataError(f"unknown case rule {case!r}", where=where, hint=f"one of: {', '.join(CASES)}")
    return case


def fold(text: str, case: str) -> str:
    """`text` under the case rule `case` (see the module docstring)."""
    if case == "casefold":
        return text.casefold()
    if case == "casefold-tr":
        return text.replace("I", "ı").replace("İ", "i").casefold()
    if case == "lower":
        return text.lower()
    if case == "keep":
        return text
    raise DataError(f"unknown case rule {case!r}", hint=f"one of: {', '.join(CASES)}")


def normalize(text: str, normalization: str) -> str:
    return unicodedata.normalize("NFC", text) if normalization == "NFC" else text


def token(word: str, rule: dict) -> str:
    """One given token (a CoNLL-U FORM) under `rule`."""
    return fold(normalize(word, rule["normalization"]), rule["case"])


def split(text: str, rule: dict) -> list[str]:
    """A text cut into tokens under `rule` (unit words, whitespace or characters)."""
    text = fold(normalize(text, rule["normalization"]), rule["case"])
    unit = rule["tokens"]
    if unit == "words":
        return _WORD.findall(text)
    if unit == "whitespace":
        return text.split()
    if unit == "characters":
        return list(text)
    raise DataError(f"unknown token unit {unit!r}", hint=f"one of: {', '.join(UNITS[1:])}")


def rule(case: str, tokens: str, normalization: str = "NFC") -> dict:
    return {"case": check_case(case), "tokens": tokens, "normalization": normalization}


def of_embedding(params: dict, dataset: str) -> dict | None:
    """The rule an embedding package records (its `architecture.params`), or the dataset's legacy rule
    when it records none; None when neither is known."""
    if "case" in params:
        return {k: str(params.get(k, LEGACY.get(dataset, {}).get(k, "none"))) for k in FIELDS}
    return dict(LEGACY[dataset]) if dataset in LEGACY else None


def check_same(embedding_rule: dict, data_rule: dict, embedding: str) -> None:
    """Refuse data cut into tokens otherwise than the embedding's vocabulary was (case and unit)."""
    differ = [k for k in ("case", "tokens") if embedding_rule.get(k) != data_rule.get(k)]
    if differ:
        have = ", ".join(f"{k} {embedding_rule.get(k)}" for k in differ)
        got = ", ".join(f"{k} {data_rule.get(k)}" for k in differ)
        raise DataError(f"the embedding package tokenizes with {have}; this data with {got}", where=embedding,
                        hint="pass the embedding's rule (e.g. --case), or train a new embedding")  # fmt: skip
