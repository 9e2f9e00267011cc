"""Concern identification (science.md section 2): which units serve a class.

|h| of every unit at the scored positions of a pool of training sequences; for class c, seeded
positives and negatives spread evenly over the other classes; per unit a MAD-filtered mean; relevance
d = mu_pos - mu_neg; units with d < 0 removed, most negative first, up to a cap per layer. All batched.
"""

from __future__ import annotations

import torch

from nnpm.datasets.text import IGNORE, TextSplit
from nnpm.nn.rnn.model import SequenceNet
from nnpm.science.rnn.train import trim


def robust_mean(values: torch.Tensor, k: float = 2.0) -> torch.Tensor:
    """Per column of [N, H]: mean of the values within k median-absolute-deviations of the median."""
    med = values.median(0).values
    dev = (values - med).abs()
    mad = dev.median(0).values
    keep = (dev <= k * mad).float()
    return (values * keep).sum(0) / keep.sum(0).clamp_min(1.0)


@torch.no_grad()
def activations(net: SequenceNet, split: TextSplit, index: torch.Tensor, last_only: bool):
    """|h| per layer at the scored positions of the chosen sequences, with those positions' labels.

    Many-to-many: every non-padding step ([P, H_l], labels [P]); many-to-one or last_only: each
    sequence's last real token ([N, H_l], labels [N]). Also each unit's signed mean output over every
    non-padding step (what fill "mean" replaces a removed unit by)."""
    feats = [[] for _ in net.rnn.sizes]
    labels = []
    sums, steps = [torch.zeros(s) for s in net.rnn.sizes], 0
    for start in range(0, len(index), 256):
        idx = index[start : start + 256]
        x, y = trim(split.x[idx], split.y[idx])
        layers = net.features(x)
        lengths = (x != 0).sum(1).clamp_min(1)
        real = x != 0
        steps += int(real.sum())
        for total, h in zip(sums, layers, strict=True):
            total += h[real].sum(0)
        if last_only or y.dim() == 1:
            rows = torch.arange(x.shape[0])
            sel = [h[rows, lengths - 1] for h in layers]
            lab = y if y.dim() == 1 else y[rows, lengths - 1]
        else:
            valid = y != IGNORE
            sel = [h[valid] for h in layers]
            lab = y[valid]
        for store, h in zip(feats, sel, strict=True):
            store.append(h.abs())
        labels.append(lab)
    return [torch.cat(f) for f in feats], torch.cat(labels), [t / max(1, steps) for t in sums]


def sample_concern(
    labels: torch.Tensor, cls: int, n_pos: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded positives (label cls, at most n_pos) and negatives spread evenly over the other labels."""
    pos = torch.nonzero(labels == cls).flatten()
    pos = pos[torch.randperm(len(pos), generator=gen)[:n_pos]]
    others = [int(c) for c in torch.unique(labels).tolist() if c != cls]
    per = max(1, n_pos // max(1, len(others)))
    neg = []
    for c in others:
        idx = torch.nonzero(labels == c).flatten()
        neg.append(idx[torch.randperm(len(idx), generator=gen)[:per]])
    return pos, torch.cat(neg) if neg else pos[:0]


def relevance(acts: list[torch.Tensor], pos, neg, k: float) -> list[torch.Tensor | None]:
    """Per layer, d = mu_pos - mu_neg of every unit (None without positives or negatives). Computed
    once per class, so trying several caps costs no further statistics."""
    if len(pos) == 0 or len(neg) == 0:
        return [None] * len(acts)
    return [robust_mean(h[pos], k) - robust_mean(h[neg], k) for h in acts]


def kept_by_cap(rel: list[torch.Tensor | None], sizes: list[int], cap: float) -> list[torch.Tensor]:
    """Per layer, sorted indices of the units kept: those with negative relevance are removed, most
    negative first, at most floor(cap * size) of them; with no relevance, every unit is kept."""
    kept = []
    for d, size in zip(rel, sizes, strict=True):
        if d is None:
            kept.append(torch.arange(size))
            continue
        n_remove = min(int((d < 0).sum()), int(cap * size + 1e-9), size - 1)
        mask = torch.ones(size, dtype=torch.bool)
        mask[torch.argsort(d)[:n_remove]] = False
        kept.append(torch.nonzero(mask).flatten())
    return kept


def choose_kept(acts: list[torch.Tensor], pos, neg, cap: float, k: float) -> list[torch.Tensor]:
    """`kept_by_cap` of `relevance`: the units a module of this concern keeps under `cap`."""
    return kept_by_cap(relevance(acts, pos, neg, k), [h.shape[1] for h in acts], cap)
