"""Typed containers for token-sequence datasets (tagging, sentence classification, translation)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from nnpm.datasets.vocab import PAD_ID, Vocab

IGNORE = -100  #: label of padding positions (torch's cross_entropy ignore_index)


@dataclass(frozen=True)
class TextSplit:
    """x: token ids [N, T] (0 = padding). y: labels [N] (classify), [N, T] (tag, IGNORE at padding)
    or target token ids [N, T'] (translate). group: what the split was stratified on (genre, language)."""

    x: torch.Tensor
    y: torch.Tensor
    group: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: torch.Tensor) -> TextSplit:
        return TextSplit(self.x[index], self.y[index], self.group[index])

    @property
    def lengths(self) -> torch.Tensor:
        return (self.x != PAD_ID).sum(1)


@dataclass(frozen=True)
class TextData:
    """A text dataset with its vocabulary (fitted on `train` only) and three splits.

    task is "tag" (many-to-many, equal length), "classify" (many-to-one) or "translate"
    (encoder-decoder; classes are target languages and `target_vocab` holds the output tokens).
    """

    name: str
    task: str
    classes: tuple[str, ...]
    vocab: Vocab
    train: TextSplit
    val: TextSplit
    test: TextSplit
    max_len: int
    split_note: str
    groups: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)
    #: how the data was stored ("nltk", "conllu", "tsv", ...): recorded in manifests beside its digest
    format: str = ""


def three_way_split(group: torch.Tensor, seed: int, val: float = 0.1, test: float = 0.1):
    """Seeded split stratified on `group`: indices (train, val, test); test is drawn first and never revisited."""
    from nnpm.datasets.splits import stratified_split

    rest, test_i = stratified_split(group, test, seed)
    tr, va = stratified_split(group[rest], val / (1.0 - test), seed + 1)
    return rest[tr], rest[va], test_i
