"""The Brown corpus from a folder in NLTK layout, tagged with the 12 universal tags.

The folder holds files ca01..cr09 (one sentence per non-empty line, tokens `word/tag`,
split on the last '/') and cats.txt (file id -> genre). Raw Brown tags are mapped to
the universal tagset by `universal_tag`, our own table: NLTK's mapping is a separate
download that is not available offline. The table is for Brown's own tags only: a tag it
does not know is an error listing the unknown tags, never silently X (a corpus tagged
with another tagset is read by its own loader, e.g. CoNLL-U for UPOS tags). Sentences longer than `max_len` are cut into
consecutive chunks so that every token of the test split is scored.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from nnpm.datasets import tokenize as tok
from nnpm.datasets.text import IGNORE, TextData, TextSplit, three_way_split
from nnpm.datasets.vocab import Vocab, pad_batch
from nnpm.errors import DataError

UNIVERSAL_TAGS = ("ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", ".", "X")
MAX_LEN = 40
SPLIT_SEED = 0
_FILE = re.compile(r"^c[a-r]\d\d$")
_SUFFIXES = ("-tl", "-hl", "-nc", "-t", "-n")
_PUNCT = {".", ",", ":", "(", ")", "--", "'", "''", "`", "``"}
_TABLE = {
    "DET": "at abl abn abx dt dti dts dtx wdt ex",
    "VERB": "be bed bedz beg bem ben ber bez do dod doz hv hvd hvg hvn hvz md vb vbd vbg vbn vbz",
    "CONJ": "cc cs",
    "NUM": "cd",
    "ADP": "in",
    "ADJ": "jj jjr jjs jjt od ap",
    "NOUN": "nn nns nn$ nns$ np nps np$ nps$ nr nrs nr$",
    "PRON": "pn pn$ pp$ pp$$ ppl ppls ppo pps ppss wp$ wpo wps",
    "ADV": "ql qlp rb rbr rbt rb$ rn wrb wql *",
    "PRT": "rp to",
    "X": "uh nil",
    # Possessives of ap, dt, cd, jj: 20 tokens in the whole corpus (ap$ 9, dt$ 5, cd$ 5, jj$-tl 1). They were X
    # by the old fallback; listed here so every published Brown figure stays as it was.
    "X ": "ap$ dt$ cd$ jj$",
}
_BASE = {raw: tag.strip() for tag, raws in _TABLE.items() for raw in raws.split()}


def universal_tag(raw: str) -> str:
    """Map one raw Brown tag (e.g. 'np-tl', 'ppss+md', 'bez*', 'fw-nn') to a universal tag.

    Title/headline/cited suffixes are dropped, foreign words are X, a contraction takes the tag
    of its first part, a trailing '*' (negation) is dropped, punctuation is '.'. A tag that is not
    Brown's is a DataError (`load` lists every one with where it first occurs).
    """
    tag = _universal(raw)
    if tag is None:
        raise DataError(
            f"{raw!r} is not a Brown tag", hint="the universal mapping covers Brown's own tagset only"
        )
    return tag


def _universal(raw: str) -> str | None:
    tag = raw.lower()
    while True:
        for suffix in _SUFFIXES:
            if tag.endswith(suffix) and len(tag) > len(suffix):
                tag = tag[: -len(suffix)]
                break
        else:
            break
    if tag.startswith("fw-"):
        return "X"
    tag = tag.split("+")[0] or tag
    if tag in _PUNCT:
        return "."
    if len(tag) > 1 and tag.endswith("*"):
        tag = tag[:-1]
    return _BASE.get(tag)


def read_folder(root: Path) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """Sentences as [(word, raw tag)] and the genre of each, in file-id order."""
    root = Path(root)
    cats = root / "cats.txt"
    if not cats.is_file():
        raise DataError("no cats.txt: not a Brown corpus folder in NLTK layout", where=str(root))
    genre_of = dict(
        line.split()[:2] for line in cats.read_text(encoding="utf-8").splitlines() if line.strip()
    )
    sentences, genres = [], []
    for fid in sorted(genre_of):
        path = root / fid
        if not _FILE.match(fid) or not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            tokens = [piece.rsplit("/", 1) for piece in line.split() if "/" in piece]
            if tokens:
                sentences.append([(w, t) for w, t in tokens])
                genres.append(genre_of[fid])
    if not sentences:
        raise DataError(
            "no tagged sentences found", where=str(root), hint="files ca01..cr09 hold word/tag tokens"
        )
    return sentences, genres


def chunk(sentence: list, max_len: int) -> list[list]:
    return [sentence[i : i + max_len] for i in range(0, len(sentence), max_len)]


def load(
    root: Path,
    *,
    max_len: int = MAX_LEN,
    seed: int = SPLIT_SEED,
    min_count: int = 2,
    limit: int | None = None,
    vocab: Vocab | None = None,
    case: str = "lower",
) -> TextData:
    """Brown as a tagging dataset: 80/10/10 sentence split stratified by genre, vocabulary from train only.

    Words are lower-cased (`case`: another rule of nnpm.datasets.tokenize); training words seen fewer
    than `min_count` times map to <unk>.
    `limit` keeps a seeded, genre-stratified subset of that many sentences (for fast runs).
    `vocab` encodes with an existing vocabulary (an embedding package's) instead of fitting one.
    """
    raw, genre_names = read_folder(root)
    tags = _map_tags(raw, root)
    rule = {**tok.LEGACY["brown"], "case": tok.check_case(case)}
    genres = tuple(sorted(set(genre_names)))
    group = torch.tensor([genres.index(g) for g in genre_names])
    if limit is not None and limit < len(raw):
        from nnpm.datasets.splits import stratified_split

        _, keep = stratified_split(group, limit / len(raw), seed + 7)
        raw, tags, group = [raw[i] for i in keep.tolist()], [tags[i] for i in keep.tolist()], group[keep]
    parts = three_way_split(group, seed)
    words = [[tok.fold(w, case) for w, _ in s] for s in raw]
    fitted = vocab is None
    vocab = vocab or Vocab.fit((words[i] for i in parts[0].tolist()), min_count=min_count)
    splits = [_encode(tags, words, group, idx, vocab, max_len) for idx in parts]
    return TextData(
        name="brown",
        task="tag",
        classes=UNIVERSAL_TAGS,
        vocab=vocab,
        train=splits[0],
        val=splits[1],
        test=splits[2],
        max_len=max_len,
        groups=genres,
        format="nltk-brown",
        meta={"tokenizer": rule},
        split_note=(
            f"{len(raw)} sentences, 80/10/10 train/val/test stratified by genre, split seed {seed}; "
            f"sentences cut into chunks of at most {max_len} tokens; "
            + ("lower-cased words; " if case == "lower" else f"words, case {case}; ")
            + (
                f"vocabulary of {len(vocab)} from train (min count {min_count})"
                if fitted
                else f"given vocabulary of {len(vocab)}"
            )
        ),
    )


def _map_tags(raw, root) -> list[list[int]]:
    """Every sentence's universal tag ids; tags outside Brown's tagset are one error listing them."""
    ids = {t: i for i, t in enumerate(UNIVERSAL_TAGS)}
    cache: dict[str, int | None] = {}
    unknown: list[str] = []
    out = []
    for sentence in raw:
        row = []
        for _, t in sentence:
            if t not in cache:
                tag = _universal(t)
                cache[t] = None if tag is None else ids[tag]
                if tag is None:
                    unknown.append(t)
            row.append(cache[t])
        out.append(row)
    if unknown:
        where = _first_lines(Path(root), unknown[:12])
        listed = ", ".join(f"{t!r} ({where.get(t, '?')})" for t in unknown[:12]) + (
            f" and {len(unknown) - 12} more" if len(unknown) > 12 else ""
        )
        raise DataError(f"{len(unknown)} tags that are not Brown's: {listed}", where=str(root),
                        hint="the universal mapping covers Brown's own tags; a corpus with other tags is read as "
                        "CoNLL-U (--dataset conllu) or TSV")  # fmt: skip
    return out


def _first_lines(root: Path, tags: list[str]) -> dict[str, str]:
    """file:line where each of `tags` first occurs (only to name them in an error)."""
    found: dict[str, str] = {}
    for path in sorted(p for p in root.iterdir() if _FILE.match(p.name)):
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for piece in line.split():
                t = piece.rsplit("/", 1)[-1]
                if "/" in piece and t in tags and t not in found:
                    found[t] = f"{path.name}:{n}"
    return found


def _encode(tags, words, group, index: torch.Tensor, vocab: Vocab, max_len: int) -> TextSplit:
    xs, ys, gs = [], [], []
    for i in index.tolist():
        for piece_w, piece_t in zip(chunk(words[i], max_len), chunk(tags[i], max_len), strict=True):
            xs.append(vocab.encode(piece_w))
            ys.append(piece_t)
            gs.append(int(group[i]))
    return TextSplit(pad_batch(xs, max_len), pad_batch(ys, max_len, IGNORE), torch.tensor(gs))
