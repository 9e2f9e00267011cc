"""`--finetune`: fit only what a composite adds, a per-class affine correction of its scores.

The modules stay frozen, so their scores are computed once per split and the
correction trains on those cached scores in a fraction of a second. The epoch kept
is the one with the best validation accuracy; the test split is never looked at.
"""

from __future__ import annotations

import copy

import torch

from nnpm.composition.evaluate import class_indices, scores
from nnpm.datasets.splits import LabelledData, Split
from nnpm.nn.composite.model import Composite, ScoreAdjust


def _cached(composite: Composite, part: Split, wanted: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    keep = torch.isin(part.y, torch.tensor(wanted))
    raw = scores(_without_adjust(composite), part.x[keep])
    target = torch.tensor([wanted.index(int(y)) for y in part.y[keep]], dtype=torch.long)
    return raw, target


def _without_adjust(composite: Composite) -> Composite:
    bare = copy.copy(composite)
    bare.adjust = None
    return bare


def finetune(
    composite: Composite, data: LabelledData, *, epochs: int = 50, lr: float = 0.05, seed: int = 0
) -> dict:
    """Attach a trained ScoreAdjust to `composite`; return the provenance to record."""
    torch.manual_seed(seed)
    wanted = class_indices(composite.classes, data)
    train_x, train_y = _cached(composite, data.train, wanted)
    val_x, val_y = _cached(composite, data.val, wanted)
    adjust = ScoreAdjust(len(wanted))
    optimiser = torch.optim.Adam(adjust.parameters(), lr=lr)
    best = (float((val_x.argmax(-1) == val_y).float().mean()), 0, copy.deepcopy(adjust.state_dict()))
    for epoch in range(1, epochs + 1):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(adjust(train_x), train_y).backward()
        optimiser.step()
        with torch.no_grad():
            val_acc = float((adjust(val_x).argmax(-1) == val_y).float().mean())
        if val_acc > best[0]:
            best = (val_acc, epoch, copy.deepcopy(adjust.state_dict()))
    adjust.load_state_dict(best[2])
    composite.adjust = adjust
    return {
        "finetune_dataset": data.name,
        "finetune_epochs": epochs,
        "finetune_selected_epoch": best[1],
        "finetune_val_accuracy": round(best[0], 6),
        "finetune_lr": lr,
        "finetune_seed": seed,
        "split": data.split_note,
    }
