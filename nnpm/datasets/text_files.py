"""What the loaders of text in users' own formats (CoNLL-U, TSV/CSV) share: reading a file as UTF-8,
finding a folder's split files, declared labels (a labels file), and carving a split that is missing.

Every refusal is a one-line DataError naming the file (and line) and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from nnpm.errors import DataError

SPLITS = ("train", "dev", "test")


def read_text(path: Path) -> str:
    """A file's text, strictly UTF-8 (a byte-order mark is dropped); an empty file is refused."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise DataError(f"not UTF-8: byte {e.object[e.start]:#04x} at offset {e.start}", where=f"{path}:{line}",
                        hint="re-encode the file as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8)") from None  # fmt: skip
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise DataError(
            "the file is empty", where=str(path), hint="point --data-dir at a folder of non-empty files"
        )
    return text


def split_files(root: Path, suffixes: Sequence[str], pattern: str) -> tuple[dict[str, Path], str]:
    """The folder's data files: {split: path} when names say train/dev/test (`pattern`, a regex with
    one group for the split), else {"all": path} for a single file. Returns it and a note."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("not a folder", where=str(root), hint="--data-dir takes the folder holding the files")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise DataError(f"no {' or '.join(f'*{s}' for s in suffixes)} file in the folder", where=str(root),
                        hint="docs/datasets.md shows each format's layout")  # fmt: skip
    named: dict[str, list[Path]] = {}
    for p in files:
        m = re.fullmatch(pattern, p.name, flags=re.IGNORECASE)
        if m:
            named.setdefault(m.group(1).lower(), []).append(p)
    if not named:
        if len(files) > 1:
            raise DataError(f"{len(files)} data files and none named for a split: {', '.join(p.name for p in files)}",
                            where=str(root), hint="keep one file, or name them for train, dev and test")  # fmt: skip
        return {"all": files[0]}, f"one file {files[0].name}"
    doubles = {s: ps for s, ps in named.items() if len(ps) > 1}
    stray = [p.name for p in files if not any(p in ps for ps in named.values())]
    if doubles or stray:
        what = "; ".join(
            f"{len(ps)} {s} files ({', '.join(p.name for p in ps)})" for s, ps in doubles.items()
        )
        raise DataError(what or f"files named for no split beside the split files: {', '.join(stray)}",
                        where=str(root), hint="one file per split (train, dev, test) in the folder, nothing else")  # fmt: skip
    if "train" not in named:
        raise DataError(f"no training file (found {', '.join(sorted(named))})", where=str(root),
                        hint="the folder needs a train file; dev and test are carved from it when missing")  # fmt: skip
    found = {s: named[s][0] for s in SPLITS if s in named}
    return found, "given files " + ", ".join(p.name for p in found.values())


def read_labels(path: Path) -> list[tuple[str, str]]:
    """A labels file: one label per line (declared, in this order), or `raw<TAB>label` to map a raw
    value onto a label; blank lines and lines starting with '#' are skipped."""
    pairs, seen = [], {}
    for n, line in enumerate(read_text(Path(path)).splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) > 2 or not all(f.strip() for f in fields):
            raise DataError(f"a labels line holds `label` or `raw<TAB>label`, found {line!r}", where=f"{path}:{n}",
                            hint="one label per line, or a raw value and its label separated by one tab")  # fmt: skip
        raw, label = fields[0].strip(), fields[-1].strip()
        if raw in seen:
            raise DataError(
                f"{raw!r} is listed twice", where=f"{path}:{n}", hint=f"first at line {seen[raw]}"
            )
        seen[raw] = n
        pairs.append((raw, label))
    return pairs


class Labels:
    """Raw values -> labels: through a declared mapping when one is given (anything else is an error), else
    through `known` when the format declares its values (UPOS), else as they are."""

    def __init__(self, mapping: Iterable[Sequence[str]] | None = None, known: Sequence[str] | None = None,
                 what: str = "label", where: str = "--labels") -> None:  # fmt: skip
        self.map = None if mapping is None else {str(r): str(lab) for r, lab in mapping}
        self.known = None if known is None else tuple(known)
        self.what, self.where = what, where
        self.unknown: dict[str, str] = {}  # value -> its first location

    def __call__(self, raw: str, location: str) -> str:
        if self.map is not None:
            label = self.map.get(raw)
        else:
            label = raw if self.known is None or raw in self.known else None
        if label is None:
            self.unknown.setdefault(raw, location)
        return label or ""

    def check(self) -> None:
        """Raise, listing every value seen outside the declared ones (with where each first occurs)."""
        if not self.unknown:
            return
        listed = ", ".join(f"{v!r} ({loc})" for v, loc in list(self.unknown.items())[:12])
        more = f" and {len(self.unknown) - 12} more" if len(self.unknown) > 12 else ""
        declared = (
            "the labels file" if self.map is not None else f"the {len(self.known or ())} declared values"
        )
        raise DataError(f"{len(self.unknown)} {self.what} value(s) outside {declared}: {listed}{more}", where=self.where,
                        hint="fix the data, or give a labels file (--labels) that lists or maps every value")  # fmt: skip

    def order(self, labels: Iterable[str]) -> tuple[str, ...]:
        """The labels present, in the declared order (mapping targets, then `known`), else sorted."""
        present = set(labels)
        declared = list(dict.fromkeys(self.map.values())) if self.map is not None else list(self.known or ())
        if declared:
            return tuple(lab for lab in declared if lab in present)
        return tuple(sorted(present))


def check_seen(classes: Sequence[str], split_labels: dict[str, Iterable[str]], what: str, where: str) -> None:
    """A label of the validation or test split that training never shows is an error, listing them."""
    for split, labels in split_labels.items():
        unseen = sorted(set(labels) - set(classes))
        if unseen:
            raise DataError(f"{what} {unseen} occur in the {split} split but never in training", where=where,
                            hint="move examples of them into the training file, or drop them")  # fmt: skip


def carve(group: torch.Tensor, seed: int, val: float = 0.1, test: float = 0.1, *, need_val: bool = True,
          need_test: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """A seeded split stratified on `group`: indices (train, val, test) of the rows. Groups with fewer
    than 3 rows stay in training (a held-out share of them would leave training without the group).
    need_val / need_test False: that split is given elsewhere, so nothing is carved for it."""
    from nnpm.datasets.splits import stratified_split
    from nnpm.datasets.text import three_way_split

    counts = torch.bincount(group) if len(group) else torch.zeros(0, dtype=torch.int64)
    small = counts[group] < 3
    rows = torch.nonzero(~small).flatten()
    empty = torch.zeros(0, dtype=torch.int64)
    if len(rows) == 0:
        raise DataError(f"{len(group)} rows are too few to carve a validation or test split",
                        hint="give more data, or the split files themselves (train, dev, test)")  # fmt: skip
    if need_val and need_test:
        tr, va, te = (rows[i] for i in three_way_split(group[rows], seed, val, test))
    elif need_val or need_test:
        rest, held = stratified_split(group[rows], val if need_val else test, seed)
        tr, held = rows[rest], rows[held]
        va, te = (held, empty) if need_val else (empty, held)
    else:
        tr, va, te = rows, empty, empty
    tr = torch.cat([tr, torch.nonzero(small).flatten()]).sort().values
    return tr, va, te
