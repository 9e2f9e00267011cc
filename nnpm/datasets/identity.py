"""The digest of a dataset as read (nnpm.package.data_identity says why it is not of its files)."""

from __future__ import annotations

import hashlib
import json

import torch

from nnpm.datasets.splits import LabelledData
from nnpm.datasets.text import TextData
from nnpm.package.data_identity import SPLITS, DataIdentity, SplitIdentity


def identify(data: LabelledData | TextData) -> DataIdentity:
    """Counts and sha256 of each split, and one digest over all of them, with the class names
    (and the vocabulary, which gives text's token ids their meaning) folded into every digest."""
    prefix = _context(data)
    splits = {name: SplitIdentity(len(part), _split_digest(prefix, part.x, part.y)) for name, part in
              zip(SPLITS, (data.train, data.val, data.test), strict=True)}  # fmt: skip
    whole = hashlib.sha256(prefix)
    for name in SPLITS:
        whole.update(f"{name}:{splits[name].sha256}\n".encode())
    return DataIdentity(data.format or "unknown", data.name, whole.hexdigest(), splits)


def split_sha256(data: LabelledData | TextData, split: str) -> str:
    """The digest `identify` gives one split, without hashing the others."""
    part = getattr(data, split)
    return _split_digest(_context(data), part.x, part.y)


def _context(data: LabelledData | TextData) -> bytes:
    context = {"classes": list(data.classes)}
    if isinstance(data, TextData):
        context["task"] = data.task
        context["vocab"] = hashlib.sha256("\n".join(data.vocab.tokens).encode("utf-8")).hexdigest()
    return json.dumps(context, sort_keys=True).encode("utf-8")


def _split_digest(prefix: bytes, x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256(prefix)
    # Images are compared as float32 and labels as int64, whatever they were stored as.
    for t in (x.float() if x.is_floating_point() else x.long(), y.long()):
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{list(t.shape)}".encode())
        h.update(t.numpy().data)
    return h.hexdigest()
