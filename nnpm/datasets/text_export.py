"""Writing text data out in the formats nnpm reads (CoNLL-U, TSV/CSV), for converting a corpus and for
checking that a loader reads back exactly what a native loader gives (benchmarks/formats_text.py)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from nnpm.errors import DataError


def write_conllu(path: Path, sentences: Iterable[Sequence[tuple[str, str]]], *, xpos=None) -> int:
    """Sentences of (word, tag) as CoNLL-U (tag in UPOS; `xpos`: per sentence, the XPOS values).
    Returns the number of sentences written."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for k, sentence in enumerate(sentences):
            extra = None if xpos is None else xpos[k]
            f.write(f"# sent_id = {k + 1}\n")
            for i, (word, tag) in enumerate(sentence, 1):
                if "\t" in word or not word.strip():
                    raise DataError(
                        f"word {word!r} cannot be written as a CoNLL-U FORM", where=f"{path}:{k + 1}"
                    )
                x = "_" if extra is None else extra[i - 1]
                f.write(f"{i}\t{word}\t_\t{tag}\t{x}\t_\t_\t_\t_\t_\n")
            f.write("\n")
            n += 1
    return n


def write_table(path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """A header and rows: tab-separated (no quoting) for .tsv, the csv module's dialect for .csv.
    A value a TSV cannot hold (a tab or a newline) is an error naming it; write .csv instead."""
    path = Path(path)
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        if path.suffix.lower() == ".csv":
            writer = csv.writer(f)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(row)
                n += 1
            return n
        f.write("\t".join(columns) + "\n")
        for row in rows:
            bad = [v for v in row if "\t" in v or "\n" in v or "\r" in v]
            if bad:
                raise DataError(
                    f"{bad[0]!r} holds a tab or a newline", where=str(path), hint="write a .csv file"
                )
            f.write("\t".join(row) + "\n")
            n += 1
    return n
