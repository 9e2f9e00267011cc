"""Tab- (or comma-) separated text files: labelled sentences (classify) and parallel corpora (translate).

`--data-dir` holds `train.tsv`, `dev.tsv`, `test.tsv` (any prefix, e.g. `news-train.tsv`; `.csv` read with
the csv module's default dialect; a split file given is kept as given, a missing dev or test is carved
from train) or a single `*.tsv` / `*.csv`, split 80/10/10 with a seed. The first row names the columns:

- classify: `text` and `label`. The single-file split is stratified on the label (a label with fewer
  than 3 rows stays in training). Text is cut into tokens (`tokens`: words, whitespace or characters)
  under the case rule `case`; the first `max_len` tokens are read. Classes are the training labels
  (sorted, or in a labels file's order); with a labels file any other label is an error.
- translate: `source`, `target` and `language`, one module per target language as with num2words.
  Source and target are cut into `tokens` (default characters); the decoder starts from a language
  token `<2xx>`. The single-file split is by source text (so a test source is never seen in training
  in any language). `languages` keeps those languages, in that order (default: in order of first
  appearance).

TSV fields are split on tabs with no quoting (a field cannot hold a tab or a newline); CSV uses the
csv module's quoting. A row with the wrong number of fields, a missing or unexpected column, an empty
field or a non-UTF-8 byte is an error naming file:line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from nnpm.datasets import text_files as tf
from nnpm.datasets import tokenize as tok
from nnpm.datasets.text import IGNORE, TextData, TextSplit
from nnpm.datasets.vocab import PAD, UNK, Vocab, pad_batch
from nnpm.errors import DataError

COLUMNS = {"classify": ("text", "label"), "translate": ("source", "target", "language")}
MAX_LEN = {"classify": 64, "translate": 40}
UNIT = {"classify": "words", "translate": "characters"}
SPLIT_SEED = 0
EOS = "<eos>"  #: as num2words: the end of every target
SPLIT_NAME = r"(?:.*[-_.])?(train|dev|test)\.(?:tsv|csv)"


def language_token(lang: str) -> str:
    return f"<2{lang}>"


def read_rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, tuple[str, ...]]]:
    """(line, fields in `columns` order) for every row of a file with a header naming the columns."""
    text = tf.read_text(path)
    if path.suffix.lower() == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
    else:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        header = [h.strip().lower() for h in next(reader)]
        missing = [c for c in columns if c not in header]
        extra = [h for h in header if h not in columns]
        if missing or extra or len(set(header)) != len(header):
            sep = "tab" if path.suffix.lower() != ".csv" else "comma"
            raise DataError(f"the header names columns {header}; expected {list(columns)}", where=f"{path}:1",
                            hint=f"the first row names the columns, {sep}-separated: {', '.join(columns)}")  # fmt: skip
        pick = [header.index(c) for c in columns]
        rows, start = [], reader.line_num
        for fields in reader:
            line, start = start + 1, reader.line_num
            if not fields or fields == [""]:
                continue
            if len(fields) != len(header):
                raise DataError(f"{len(fields)} fields, the header has {len(header)}", where=f"{path}:{line}",
                                hint="one value per column; a TSV field cannot hold a tab")  # fmt: skip
            values = tuple(fields[i].strip() for i in pick)
            empty = [c for c, v in zip(columns, values, strict=True) if not v]
            if empty:
                raise DataError(
                    f"empty {', '.join(empty)}", where=f"{path}:{line}", hint="fill the field or drop the row"
                )
            rows.append((line, values))
    except csv.Error as e:
        raise DataError(
            f"not CSV: {e}", where=f"{path}:{reader.line_num}", hint="check the quoting"
        ) from None
    if not rows:
        raise DataError("a header and no rows", where=str(path), hint="add rows below the header")
    return rows


def _read(root: Path, task: str, labels):
    files, note = tf.split_files(Path(root), (".tsv", ".csv"), SPLIT_NAME)
    mapper = tf.Labels(labels, None, what="label", where="--labels")
    read = {}
    for split, path in files.items():
        rows = read_rows(path, COLUMNS[task])
        if task == "classify":
            rows = [(line, (text, mapper(label, f"{path.name}:{line}"))) for line, (text, label) in rows]
        read[split] = rows
    mapper.check()
    return read, note, mapper


def load(root: Path, *, task: str, labels=None, languages=None, case: str | None = None, tokens: str | None = None,
         max_len: int | None = None, seed: int = SPLIT_SEED, min_count: int | None = None, limit: int | None = None,
         vocab: Vocab | None = None) -> TextData:  # fmt: skip
    """A classify or translate dataset from the TSV/CSV files in `root` (see the module docstring)."""
    if task not in COLUMNS:
        raise DataError(f"the tsv dataset serves --task classify or translate, not {task}", where="--task")
    if task == "classify" and languages:
        raise DataError("--languages applies to translation", where="--languages", hint="drop it")
    unit = tokens or UNIT[task]
    if unit not in tok.UNITS[1:]:
        raise DataError(
            f"unknown token unit {unit!r}", where="--tokens", hint=f"one of: {', '.join(tok.UNITS[1:])}"
        )
    rule = tok.rule(case or (tok.DEFAULT_CASE if task == "classify" else "keep"), unit)
    max_len = max_len or MAX_LEN[task]
    read, note, mapper = _read(root, task, labels)
    if task == "classify":
        return _classify(
            read, note, mapper, rule, max_len, seed, 2 if min_count is None else min_count, limit, vocab, root
        )
    return _translate(read, note, languages, rule, max_len, seed, min_count or 1, limit, vocab, root)


def _classify(read, note, mapper, rule, max_len, seed, min_count, limit, vocab, root) -> TextData:
    if "all" in read:
        rows = [r for _, r in read["all"]]
        classes = mapper.order(lab for _, lab in rows)
        y = torch.tensor([classes.index(lab) for _, lab in rows])
        if limit is not None and limit < len(rows):
            from nnpm.datasets.splits import stratified_split

            _, keep = stratified_split(y, limit / len(rows), seed + 7)
            rows, y = [rows[i] for i in keep.tolist()], y[keep]
        parts = tf.carve(y, seed)
        how = f"{len(rows)} rows split 80/10/10 stratified by label, split seed {seed}"
    else:
        rows, parts = _given(read, seed, limit, lambda part: [lab for _, lab in part])
        classes = mapper.order(rows[i][1] for i in parts[0].tolist())
        tf.check_seen(classes, {n: (rows[i][1] for i in idx.tolist()) for n, idx in zip(("dev", "test"), parts[1:], strict=True)},
                      "labels", str(root))  # fmt: skip
        y = torch.tensor([classes.index(lab) for _, lab in rows])
        how = "train/dev/test " + "/".join(str(len(p)) for p in parts) + " rows"
    texts = [tok.split(text, rule)[:max_len] for text, _ in rows]
    fitted = vocab is None
    vocab = vocab or Vocab.fit((texts[i] for i in parts[0].tolist()), min_count=min_count)
    splits = [TextSplit(pad_batch([vocab.encode(texts[i]) for i in idx.tolist()], max_len), y[idx], y[idx])
              for idx in parts]  # fmt: skip
    return TextData(
        name="tsv", task="classify", classes=classes, vocab=vocab, train=splits[0], val=splits[1], test=splits[2],
        max_len=max_len, groups=classes, format="tsv", meta={"tokenizer": rule},
        split_note=(f"{note}: {how}, {len(classes)} classes; {rule['tokens']}, NFC, case {rule['case']}, first "
                    f"{max_len} kept; " + (f"vocabulary of {len(vocab)} from train (min count {min_count})" if fitted
                                           else f"given vocabulary of {len(vocab)}")),
    )  # fmt: skip


def _given(read, seed, limit, group_of):
    """Rows of the given split files in order (train, dev, test); a missing dev or test carved from train."""
    from nnpm.datasets.splits import stratified_split

    total = sum(len(r) for r in read.values())
    rows, parts = [], {}
    for name in tf.SPLITS:
        part = [r for _, r in read.get(name, [])]
        if limit is not None and limit < total and part:
            g = _index(group_of(part))
            part = [
                part[i]
                for i in stratified_split(g, max(1, round(limit * len(part) / total)) / len(part), seed + 7)[
                    1
                ].tolist()
            ]
        parts[name] = torch.arange(len(rows), len(rows) + len(part))
        rows.extend(part)
    missing = [s for s in ("dev", "test") if s not in read]
    if missing:
        train = parts["train"]
        tr, va, te = tf.carve(_index(group_of([rows[i] for i in train.tolist()])), seed,
                              need_val="dev" in missing, need_test="test" in missing)  # fmt: skip
        parts["train"] = train[tr]
        parts["dev"] = train[va] if "dev" in missing else parts["dev"]
        parts["test"] = train[te] if "test" in missing else parts["test"]
    return rows, tuple(parts[s] for s in tf.SPLITS)


def _index(values) -> torch.Tensor:
    names = {v: i for i, v in enumerate(sorted(set(values)))}
    return torch.tensor([names[v] for v in values], dtype=torch.int64)


def _translate(read, note, languages, rule, max_len, seed, min_count, limit, vocab, root) -> TextData:
    all_rows = [r for split in ("all", *tf.SPLITS) for _, r in read.get(split, [])]
    present = list(dict.fromkeys(lang for _, _, lang in all_rows))
    if languages:
        languages = tuple(languages)
        absent = [lang for lang in languages if lang not in present]
        if absent:
            raise DataError(f"no rows for languages {absent} (the data has {', '.join(present)})", where="--languages",
                            hint="choose among the data's languages")  # fmt: skip
    else:
        languages = tuple(present)
    if "all" in read:
        rows = [r for _, r in read["all"] if r[2] in languages]
        sources = list(dict.fromkeys(src for src, _, _ in rows))
        order = torch.randperm(len(sources), generator=torch.Generator().manual_seed(seed))
        if limit is not None:
            order = order[:limit]
        n = max(1, len(order) // 10)
        if len(order) < 3:
            raise DataError(f"{len(order)} distinct sources are too few to carve a validation and a test split",
                            where=str(root), hint="give more pairs, or the split files themselves")  # fmt: skip
        split_of = {sources[s]: (2 if k < n else 1 if k < 2 * n else 0) for k, s in enumerate(order.tolist())}
        rank = {sources[s]: k for k, s in enumerate(order.tolist())}
        per = [sorted((r for r in rows if split_of.get(r[0]) == p), key=lambda r: (languages.index(r[2]), rank[r[0]]))
               for p in range(3)]  # fmt: skip
        how = f"{len(order)} distinct sources split 80/10/10 by source (split seed {seed})"
    else:
        if limit is not None:
            raise DataError("--limit applies to a single-file parallel corpus", where="--limit",
                            hint="drop it, or shorten the split files")  # fmt: skip
        per = [sorted((r for _, r in read.get(s, []) if r[2] in languages), key=lambda r: languages.index(r[2]))
               for s in tf.SPLITS]  # fmt: skip
        if not per[1] or not per[2]:
            raise DataError("a parallel corpus given as split files needs train, dev and test", where=str(root),
                            hint="add the missing file, or give a single file to split")  # fmt: skip
        how = "train/dev/test " + "/".join(str(len(p)) for p in per) + " pairs"
    train_langs = tuple(lang for lang in languages if any(r[2] == lang for r in per[0]))
    tf.check_seen(
        train_langs, {"dev": (r[2] for r in per[1]), "test": (r[2] for r in per[2])}, "languages", str(root)
    )
    languages = train_langs
    cut = [
        [(tok.split(s, rule)[:max_len], tok.split(t, rule)[: max_len - 1], lang) for s, t, lang in p]
        for p in per
    ]
    lang_tokens = tuple(language_token(lang) for lang in languages)
    fitted = vocab is None
    if vocab is None:
        vocab = Vocab.fit((seq for s, t, _ in cut[0] for seq in (s, t)), min_count=min_count,
                          reserved=(PAD, UNK, EOS, *lang_tokens))  # fmt: skip
    missing = [t for t in lang_tokens if t not in vocab.tokens]
    if missing:
        raise DataError(f"the vocabulary has no language token for {missing}", where="--embedding",
                        hint="an embedding serves the languages it was made with; train a new one for these")  # fmt: skip
    splits = [_encode(p, languages, vocab, max_len) for p in cut]
    return TextData(
        name="tsv", task="translate", classes=languages, vocab=vocab, train=splits[0], val=splits[1], test=splits[2],
        max_len=max_len, groups=languages, format="tsv",
        meta={"eos_id": vocab.id(EOS), "language_tokens": lang_tokens, "tokenizer": rule},
        split_note=(f"{note}: {how}, targets in {', '.join(languages)}; {rule['tokens']}, NFC, case {rule['case']}, "
                    f"at most {max_len}; " + (f"vocabulary of {len(vocab)} from train" if fitted
                                              else f"given vocabulary of {len(vocab)}")),
    )  # fmt: skip


def _encode(pairs, languages, vocab: Vocab, max_len: int) -> TextSplit:
    src = [vocab.encode(s) for s, _, _ in pairs]
    tgt = [vocab.encode(t) + [vocab.id(EOS)] for _, t, _ in pairs]
    group = [languages.index(lang) for _, _, lang in pairs]
    return TextSplit(
        pad_batch(src, max_len), pad_batch(tgt, max_len, IGNORE), torch.tensor(group, dtype=torch.int64)
    )
