"""CoNLL-U treebanks (Universal Dependencies) as a tagging dataset, parsed with the `conllu` package.

`--data-dir` holds `*-ud-train.conllu`, `*-ud-dev.conllu`, `*-ud-test.conllu` (a UD release's names:
the split is kept as given, and a missing dev or test file is carved from train), or a single `*.conllu`
file, split 80/10/10 with a seed, stratified on each sentence's rarest tag (sentences whose rarest tag
occurs in fewer than 3 sentences stay in training). As UD says, multiword-token lines (`1-2`) and empty
nodes (`1.1`) are not words of the sentence and are skipped; the words are the FORM column.

Tags are the UPOS column (`tag_column="xpos"` for the treebank's own tags), kept as they are: a UPOS
value outside UD's 17 tags is an error that lists them, and with a labels file (`labels`: pairs raw ->
label, or one label per line) every value outside it is. Classes are the tags of the training split,
in UD's order (or the labels file's); a tag of dev or test that training never shows is an error.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnpm.datasets import text_files as tf
from nnpm.datasets import tokenize as tok
from nnpm.datasets.text import IGNORE, TextData, TextSplit
from nnpm.datasets.vocab import Vocab, pad_batch
from nnpm.errors import DataError

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X")  # fmt: skip
COLUMNS = ("upos", "xpos")
MAX_LEN = 40
SPLIT_SEED = 0
SPLIT_NAME = r".*-ud-(train|dev|test)\.conllu"
N_FIELDS = 10


def _conllu():
    try:
        import conllu
    except ImportError:
        raise DataError("the conllu package is not installed",
                        hint="pip install conllu (or, in a clone of nnpm: pip install -e '.[conllu]')") from None  # fmt: skip
    return conllu


def read_file(path: Path, column: str, labels: tf.Labels) -> list[tuple[list[str], list[str]]]:
    """Sentences of one file as (forms, tags), words only. Lines are checked here (10 tab-separated
    fields) so an error can name file:line; each sentence block is then parsed by `conllu`."""
    conllu = _conllu()
    text = tf.read_text(path)
    blocks, block, start = [], [], 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if block:
                blocks.append((start, block))
            block = []
            continue
        if not block:
            start = n
        if not line.startswith("#") and len(line.split("\t")) != N_FIELDS:
            raise DataError(f"a CoNLL-U word line has {N_FIELDS} tab-separated fields, this one {len(line.split(chr(9)))}",
                            where=f"{path}:{n}", hint="fields are separated by single tabs; spaces inside a field are allowed")  # fmt: skip
        block.append((n, line))
    if block:
        blocks.append((start, block))
    out = []
    for start, lines in blocks:
        try:
            parsed = conllu.parse("\n".join(line for _, line in lines) + "\n\n")
        except conllu.exceptions.ParseException as e:
            raise DataError(f"not CoNLL-U: {e}", where=f"{path}:{start}", hint="see universaldependencies.org/format.html") from None  # fmt: skip
        word_lines = [n for n, line in lines if not line.startswith("#")]
        forms, tags = [], []
        for sentence in parsed:
            for token, n in zip(sentence, word_lines, strict=False):
                if not isinstance(token["id"], int):  # 1-2 (multiword token) or 1.1 (empty node)
                    continue
                raw = token[column]
                if raw in (None, "_", ""):
                    raise DataError(f"word {token['id']} has no {column.upper()}", where=f"{path}:{n}",
                                    hint="tag every word, or choose the other column (--tag-column upos|xpos)")  # fmt: skip
                forms.append(token["form"])
                tags.append(labels(raw, f"{path.name}:{n}"))
        if forms:
            out.append((forms, tags))
    if not out:
        raise DataError(
            "no sentence with words", where=str(path), hint="see universaldependencies.org/format.html"
        )
    return out


def load(root: Path, *, tag_column: str = "upos", labels=None, case: str = tok.DEFAULT_CASE,
         max_len: int = MAX_LEN, seed: int = SPLIT_SEED, min_count: int = 2, limit: int | None = None,
         vocab: Vocab | None = None) -> TextData:  # fmt: skip
    """A tagging dataset from the CoNLL-U files in `root` (see the module docstring).

    labels: pairs (raw, label) of a labels file. case: the case rule (nnpm.datasets.tokenize). Sentences
    longer than `max_len` are cut into chunks so every test word is scored; the vocabulary is fitted on
    train (min count `min_count`) unless `vocab` is given. `limit` keeps a seeded, stratified subset of
    that many sentences (each given file shrunk in proportion)."""
    if tag_column not in COLUMNS:
        raise DataError(f"unknown tag column {tag_column!r}", where="--tag-column", hint="upos or xpos")
    rule = tok.rule(case, "given")
    files, note = tf.split_files(Path(root), (".conllu",), SPLIT_NAME)
    mapper = tf.Labels(labels, UPOS if tag_column == "upos" else None, what=tag_column.upper(),
                       where=str(root) if labels is None else "--labels")  # fmt: skip
    read = {split: read_file(path, tag_column, mapper) for split, path in files.items()}
    mapper.check()
    sentences, parts, split_note = _split(read, seed, limit)
    words = [[tok.token(w, rule) for w in forms] for forms, _ in sentences]
    train_tags = [t for i in parts[0].tolist() for t in sentences[i][1]]
    classes = mapper.order(train_tags)
    tf.check_seen(classes, {name: (t for i in idx.tolist() for t in sentences[i][1])
                            for name, idx in zip(("dev", "test"), parts[1:], strict=True)},
                  f"{tag_column.upper()} tags", str(root))  # fmt: skip
    group = _rarest(sentences, classes, train_tags)
    fitted = vocab is None
    vocab = vocab or Vocab.fit((words[i] for i in parts[0].tolist()), min_count=min_count)
    splits = [_encode(sentences, words, group, idx, classes, vocab, max_len) for idx in parts]
    return TextData(
        name="conllu", task="tag", classes=classes, vocab=vocab, train=splits[0], val=splits[1], test=splits[2],
        max_len=max_len, groups=classes, format="conllu",
        split_note=(f"{note}: {split_note}; tags from {tag_column.upper()}; sentences cut into chunks of at most "
                    f"{max_len} tokens; NFC, case {case}; "
                    + (f"vocabulary of {len(vocab)} from train (min count {min_count})" if fitted
                       else f"given vocabulary of {len(vocab)}")),
        meta={"tokenizer": rule},
    )  # fmt: skip


def _split(read: dict, seed: int, limit: int | None):
    """All sentences in split order, (train, val, test) indices into them, and how they were made."""
    if "all" in read:
        sentences = read["all"]
        group = _rarest(sentences, None, [t for _, tags in sentences for t in tags])
        if limit is not None and limit < len(sentences):
            keep = _subset(group, limit, len(sentences), seed)
            sentences, group = [sentences[i] for i in keep.tolist()], group[keep]
        parts = tf.carve(group, seed)
        return sentences, parts, (f"{len(sentences)} sentences split 80/10/10, stratified by each sentence's "
                                  f"rarest tag, split seed {seed}")  # fmt: skip
    total = sum(len(s) for s in read.values())
    sentences, parts, notes = [], {}, []
    for name in tf.SPLITS:
        part = read.get(name, [])
        if limit is not None and limit < total and part:
            group = _rarest(part, None, [t for _, tags in part for t in tags])
            part = [
                part[i]
                for i in _subset(group, max(1, round(limit * len(part) / total)), len(part), seed).tolist()
            ]
        parts[name] = torch.arange(len(sentences), len(sentences) + len(part))
        sentences.extend(part)
    missing = [s for s in ("dev", "test") if s not in read]
    if missing:
        train = parts["train"]
        own = [sentences[i] for i in train.tolist()]
        group = _rarest(own, None, [t for _, tags in own for t in tags])
        tr, va, te = tf.carve(group, seed, need_val="dev" in missing, need_test="test" in missing)
        parts["train"] = train[tr]
        if "dev" in missing:
            parts["dev"] = train[va]
        if "test" in missing:
            parts["test"] = train[te]
        notes.append(
            f"{' and '.join(missing)} carved from train (10% each, stratified by rarest tag, split seed {seed})"
        )
    counts = "/".join(str(len(parts[s])) for s in tf.SPLITS)
    return sentences, tuple(parts[s] for s in tf.SPLITS), "; ".join([f"train/dev/test {counts} sentences", *notes])  # fmt: skip


def _subset(group: torch.Tensor, n: int, total: int, seed: int) -> torch.Tensor:
    from nnpm.datasets.splits import stratified_split

    return stratified_split(group, n / total, seed + 7)[1]


def _rarest(sentences, classes, counted) -> torch.Tensor:
    """Each sentence's rarest tag (by its count in `counted`, ties by name): what splits stratify on."""
    counts: dict[str, int] = {}
    for t in counted:
        counts[t] = counts.get(t, 0) + 1
    names = classes or tuple(sorted({t for _, tags in sentences for t in tags}))
    index = {t: i for i, t in enumerate(names)}
    return torch.tensor([index.get(min(tags, key=lambda t: (counts.get(t, 0), t)), 0) for _, tags in sentences],
                        dtype=torch.int64)  # fmt: skip


def chunk(seq: list, max_len: int) -> list[list]:
    return [seq[i : i + max_len] for i in range(0, len(seq), max_len)]


def _encode(sentences, words, group, index, classes, vocab: Vocab, max_len: int) -> TextSplit:
    xs, ys, gs = [], [], []
    label = {c: i for i, c in enumerate(classes)}
    for i in index.tolist():
        for piece_w, piece_t in zip(chunk(words[i], max_len), chunk(sentences[i][1], max_len), strict=True):
            xs.append(vocab.encode(piece_w))
            ys.append([label[t] for t in piece_t])
            gs.append(int(group[i]))
    return TextSplit(
        pad_batch(xs, max_len), pad_batch(ys, max_len, IGNORE), torch.tensor(gs, dtype=torch.int64)
    )
