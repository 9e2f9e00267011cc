"""chatterbot-corpus (PyPI `chatterbot-corpus`, BSD) as many-to-one text classification.

`lang`: every utterance labelled with its language folder (28 languages), tokenised into characters
(many of the scripts have no spaces). `topic`: English utterances labelled with their file (21
topics), tokenised into lower-cased words. Identical (text, label) pairs are kept once, so that a
test utterance never also appears in training; the split is seeded and stratified on the label.
Only languages with at least `min_per_class` distinct utterances are kept.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import torch

from nnpm.datasets.text import TextData, TextSplit, three_way_split
from nnpm.datasets.tokenize import LEGACY, check_case, fold
from nnpm.datasets.vocab import Vocab, pad_batch
from nnpm.errors import DataError

MAX_LEN = {"lang": 64, "topic": 24}
CASE = {"lang": "keep", "topic": "lower"}
SPLIT_SEED = 0
_WORD = re.compile(r"\w+|[^\w\s]")


def corpus_root() -> Path:
    try:
        import chatterbot_corpus
    except ImportError:
        raise DataError(
            "chatterbot-corpus is not installed",
            hint="install the text extras: pip install -e '.[text]' in nnpm's clone",
        ) from None
    return Path(chatterbot_corpus.__file__).parent / "data"


def _utterances(path: Path) -> list[str]:
    try:
        import yaml
    except ImportError:
        raise DataError(
            "pyyaml is not installed",
            hint="install the text extras: pip install -e '.[text]' in nnpm's clone",
        ) from None
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for conv in doc.get("conversations") or []:
        out.extend(str(u).strip() for u in conv if isinstance(u, (str, int, float)) and str(u).strip())
    return out


def read_pairs(kind: str, root: Path | None = None) -> list[tuple[str, str]]:
    """Distinct (text, label) pairs, in sorted order."""
    root = root or corpus_root()
    if kind == "lang":
        pairs = {
            (u, d.name) for d in root.iterdir() if d.is_dir() for f in d.glob("*.yml") for u in _utterances(f)
        }
    elif kind == "topic":
        pairs = {(u, f.stem) for f in (root / "english").glob("*.yml") for u in _utterances(f)}
    else:
        raise DataError(f"unknown chatterbot task {kind!r} (lang or topic)")
    return sorted(pairs)


def tokenize(text: str, kind: str, case: str | None = None) -> list[str]:
    """Characters (lang, case kept) or words (topic, lower-cased); `case`: another rule (nnpm.datasets.tokenize)."""
    case = case or CASE[kind]
    return list(fold(text, case)) if kind == "lang" else _WORD.findall(fold(text, case))


def load(kind: str, *, max_len: int | None = None, seed: int = SPLIT_SEED, min_per_class: int = 20,
         limit: int | None = None, vocab: Vocab | None = None, root: Path | None = None,
         case: str | None = None) -> TextData:  # fmt: skip
    """chatterbot-lang or chatterbot-topic, 80/10/10 stratified on the label; vocabulary fitted on train."""
    if kind not in MAX_LEN:
        raise DataError(f"unknown chatterbot task {kind!r} (lang or topic)")
    case = check_case(case or CASE[kind])
    max_len = max_len or MAX_LEN[kind]
    pairs = read_pairs(kind, root)
    counts: dict[str, int] = {}
    for _, label in pairs:
        counts[label] = counts.get(label, 0) + 1
    classes = tuple(sorted(c for c, n in counts.items() if n >= min_per_class))
    pairs = [(t, lab) for t, lab in pairs if lab in classes]
    y = torch.tensor([classes.index(lab) for _, lab in pairs])
    dropped: tuple[str, ...] = ()
    if limit is not None and limit < len(pairs):
        from nnpm.datasets.splits import stratified_split

        _, keep = stratified_split(y, limit / len(pairs), seed + 7)
        pairs = [pairs[i] for i in keep.tolist()]
        # a class left with fewer than 3 utterances cannot be in train, val and test: it would be a class the
        # model never sees in training (and decompose refuses), so it is dropped like a class under min_per_class
        kept = Counter(lab for _, lab in pairs)
        dropped = tuple(c for c in classes if kept[c] < 3)
        classes = tuple(c for c in classes if kept[c] >= 3)
        pairs = [(t, lab) for t, lab in pairs if lab in classes]
        y = torch.tensor([classes.index(lab) for _, lab in pairs])
    tokens = [tokenize(t, kind, case)[:max_len] or ["<unk>"] for t, _ in pairs]
    parts = three_way_split(y, seed)
    fitted = vocab is None
    vocab = vocab or Vocab.fit((tokens[i] for i in parts[0].tolist()), min_count=2)
    splits = [
        TextSplit(pad_batch([vocab.encode(tokens[i]) for i in idx.tolist()], max_len), y[idx], y[idx])
        for idx in parts
    ]
    unit = {("lang", "keep"): "characters", ("topic", "lower"): "lower-cased words"}.get(
        (kind, case), f"{'characters' if kind == 'lang' else 'words'}, case {case}"
    )
    return TextData(
        name=f"chatterbot-{kind}",
        task="classify",
        classes=classes,
        vocab=vocab,
        train=splits[0],
        val=splits[1],
        test=splits[2],
        max_len=max_len,
        groups=classes,
        format="chatterbot-yaml",
        meta={"tokenizer": {**LEGACY[f"chatterbot-{kind}"], "case": case}},
        split_note=(
            f"{len(pairs)} distinct utterances, {len(classes)} classes, 80/10/10 stratified by label, split seed {seed}; "
            + (
                f"{len(dropped)} classes with fewer than 3 in the subset dropped ({', '.join(dropped)}); "
                if dropped
                else ""
            )
            + f"{unit}, first {max_len} kept; "
            + (
                f"vocabulary of {len(vocab)} from train (min count 2)"
                if fitted
                else f"given vocabulary of {len(vocab)}"
            )
        ),
    )
