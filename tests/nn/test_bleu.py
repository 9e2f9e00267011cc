"""nnpm's corpus BLEU against sacrebleu, the reference implementation, on a real corpus."""

from __future__ import annotations

import random

import pytest
from num2words import num2words
from sacrebleu.metrics import BLEU

from nnpm.nn.bleu import corpus_bleu


def _corrupt(tokens: list[str], rng: random.Random) -> list[str]:
    """A plausible wrong translation: drop, duplicate or swap a few characters."""
    out = list(tokens)
    for _ in range(rng.randint(0, 3)):
        i = rng.randrange(len(out))
        kind = rng.choice(("drop", "dup", "swap"))
        if kind == "drop" and len(out) > 1:
            del out[i]
        elif kind == "dup":
            out.insert(i, out[i])
        elif i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


@pytest.mark.parametrize(("lang", "max_n"), [("fr", 4), ("de", 4), ("it", 1), ("fr", 2)])
def test_corpus_bleu_equals_sacrebleu_on_num2words_translations(lang, max_n):
    rng = random.Random(0)
    refs = [list(num2words(n, lang=lang).replace(" ", "_")) for n in range(1, 400)]
    hyps = [_corrupt(r, rng) for r in refs]
    ours = corpus_bleu(hyps, refs, max_n)
    bleu = BLEU(tokenize="none", smooth_method="none", force=True, max_ngram_order=max_n)
    theirs = bleu.corpus_score([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]])
    assert ours * 100 == pytest.approx(theirs.score, abs=1e-9)
    assert 0.2 < ours < 1.0  # the corruption leaves a score that can tell a wrong implementation
