"""Case rules (Turkish dotted and dotless i included), NFC, and the rule recorded in the embedding package."""

from __future__ import annotations

import pytest

from nnpm.datasets import tokenize as tok
from nnpm.errors import DataError

TURKISH = "İstanbul ILIK ılık ilik İLİK Işık"


def words(case: str) -> list[str]:
    return tok.split(TURKISH, tok.rule(case, "whitespace"))


def test_casefold_keeps_dotted_and_dotless_i_apart_but_is_not_turkish():
    folded = words("casefold")
    assert folded[0] == "i\u0307stanbul"  # İ -> i + combining dot above: not the word "istanbul"
    assert folded[2] == "ılık" and folded[3] == "ilik"  # ı stays ı, so ılık and ilik stay two words
    assert folded[1] == "ilik"  # ...but capital I folds to i, as in every language but Turkish and Azeri
    assert folded[4] == "i\u0307li\u0307k" != folded[3]


def test_the_turkish_rule_maps_capitals_to_their_own_small_letters():
    folded = words("casefold-tr")
    assert folded[:5] == ["istanbul", "ılık", "ılık", "ilik", "ilik"]
    assert folded[5] == "ışık"


def test_keep_and_lower_and_nfc():
    assert words("keep") == TURKISH.split()
    assert words("lower")[0] == "İstanbul".lower()
    decomposed = "cafe\u0301"  # e + combining acute
    assert tok.split(decomposed, tok.rule("keep", "characters")) == list("café")  # NFC: one letter
    assert tok.split(decomposed, {"case": "keep", "tokens": "characters", "normalization": "none"}) == list(
        decomposed
    )
    assert tok.split("Straße, STRASSE!", tok.rule("casefold", "words")) == ["strasse", ",", "strasse", "!"]


def test_unknown_rules_and_what_an_embedding_records():
    with pytest.raises(DataError, match="unknown case rule 'upper'"):
        tok.rule("upper", "words")
    params = {"vocab_size": 10, "dim": 4, "case": "casefold", "tokens": "given", "normalization": "NFC"}
    assert tok.of_embedding(params, "conllu") == {
        "case": "casefold",
        "tokens": "given",
        "normalization": "NFC",
    }
    # an embedding package made before the fields existed: the dataset's own rule, as it always was
    assert tok.of_embedding({"vocab_size": 10, "dim": 4}, "brown")["case"] == "lower"
    assert tok.of_embedding({"vocab_size": 10, "dim": 4}, "somewhere") is None
    with pytest.raises(DataError, match="tokenizes with case lower; this data with case casefold"):
        tok.check_same(tok.LEGACY["brown"], tok.rule("casefold", "given"), "brown/embedding==1.0.0")
