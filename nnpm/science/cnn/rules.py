"""Choosing, on validation, how the composites of one model's modules compare their classes.

A model's modules compose by MODA's rule (the union of their units, the model's logits restricted
to the composite's classes) or by calibrated scores (each module's log p(class | x), the rule that
also works across models). Which is better depends on the method and the run, so it is measured on
the validation split (carved from training data) over two-class composites, every pair up to
`max_pairs` (a seeded sample beyond), and recorded in the model's manifest; composing reads it.
The test split is never looked at here.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from nnpm.datasets.splits import Split
from nnpm.nn.cnn.fuse import CALIBRATED, UNION, FusedModules, union_network
from nnpm.nn.cnn.model import CNN
from nnpm.package.manifest import Architecture


@dataclass(frozen=True)
class RuleChoice:
    """The chosen rule and the validation figures it was chosen on (accuracy over 2-class composites)."""

    rule: str
    pairs: int
    union_mean: float
    union_worst: float
    calibrated_mean: float
    calibrated_worst: float

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def class_pairs(classes: Sequence[int], max_pairs: int, seed: int) -> list[tuple[int, int]]:
    pairs = list(itertools.combinations(sorted(classes), 2))
    if len(pairs) > max_pairs:
        pairs = sorted(random.Random(seed).sample(pairs, max_pairs))
    return pairs


@torch.no_grad()
def subset_accuracy(
    fused: torch.nn.Module, split: Split, classes: Sequence[int], batch_size: int = 1024
) -> float:
    """Accuracy of a composite over `classes` on the split's samples of those classes."""
    own = torch.isin(split.y, torch.tensor(list(classes)))
    x, y = split.x[own], split.y[own]
    if len(y) == 0:
        return float("nan")
    device = next(fused.parameters()).device
    picks = torch.cat(
        [fused(x[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)]
    )
    return float((torch.tensor(list(classes))[picks] == y).float().mean())


def choose_rule(
    model: CNN,
    model_arch: Architecture,
    module_archs: Sequence[Architecture],
    val: Split,
    *,
    max_pairs: int = 45,
    seed: int = 0,
) -> RuleChoice:
    """The rule with the higher mean validation accuracy over 2-class composites (ties: union, which
    needs no calibration); with fewer than two modules, calibrated (nothing to compare)."""
    by_class = {int(a.params["classes"][0]): a for a in module_archs}
    pairs = class_pairs(list(by_class), max_pairs, seed)
    if not pairs:
        return RuleChoice(CALIBRATED, 0, float("nan"), float("nan"), float("nan"), float("nan"))
    device = next(model.parameters()).device
    state = model.state_dict()
    figures: dict[str, list[float]] = {UNION: [], CALIBRATED: []}
    for a, b in pairs:
        archs = [by_class[a], by_class[b]]
        backbone = union_network(state, model_arch, archs).to(device)  # one network, read by both rules
        for rule, accs in figures.items():
            accs.append(subset_accuracy(FusedModules(backbone, archs, rule).eval(), val, (a, b)))
    mean = {rule: sum(v) / len(v) for rule, v in figures.items()}
    rule = UNION if mean[UNION] >= mean[CALIBRATED] else CALIBRATED
    return RuleChoice(
        rule, len(pairs), mean[UNION], min(figures[UNION]), mean[CALIBRATED], min(figures[CALIBRATED])
    )
