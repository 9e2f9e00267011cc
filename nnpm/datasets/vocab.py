"""Token vocabularies: fitted on training text only, stored as plain JSON (a list of tokens).

Index 0 is padding and index 1 stands for any token not seen in training, so that a
vocabulary fitted on the training split can encode validation and test text without
ever having looked at it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from nnpm.errors import DataError

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
VOCAB_FILE = "vocab.json"


@dataclass(frozen=True)
class Vocab:
    """An ordered token list; position = id."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tokens[:2] != (PAD, UNK):
            raise DataError(f"a vocabulary starts with {PAD!r} and {UNK!r}, found {list(self.tokens[:2])}")
        object.__setattr__(self, "_index", {tok: i for i, tok in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def fit(
        cls, sentences: Iterable[Sequence[str]], *, min_count: int = 1, reserved: Sequence[str] = ()
    ) -> Vocab:
        """Tokens seen at least `min_count` times, most frequent first (ties alphabetical)."""
        counts = Counter(tok for sent in sentences for tok in sent)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_count and t not in reserved),
            key=lambda t: (-counts[t], t),
        )
        extra = [t for t in reserved if t not in (PAD, UNK)]
        return cls((PAD, UNK, *extra, *(t for t in kept if t not in (PAD, UNK))))

    def id(self, token: str) -> int:
        return self._index.get(token, UNK_ID)

    def encode(self, sentence: Sequence[str]) -> list[int]:
        return [self._index.get(tok, UNK_ID) for tok in sentence]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(list(self.tokens), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        try:
            tokens = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read vocabulary: {exc}", where=str(path)) from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError("a vocabulary file holds a JSON list of strings", where=str(path))
        return cls(tuple(tokens))


def pad_batch(rows: Sequence[Sequence[int]], length: int, value: int = PAD_ID) -> torch.Tensor:
    """Right-padded int64 tensor [len(rows), length]; rows longer than `length` are an error upstream."""
    out = torch.full((len(rows), length), value, dtype=torch.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return out
