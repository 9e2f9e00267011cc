"""Which units belong to which class: MwT's tau rule over training-set gate frequencies, and MODA's
over training-set activation rates (both: keep unit k for class c iff its rate on c's samples >= tau)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnpm.datasets.splits import Split
from nnpm.errors import InvalidInputError
from nnpm.nn.cnn.model import CNN


@torch.no_grad()
def gate_frequencies(
    model: CNN, split: Split, num_classes: int, batch_size: int = 512
) -> dict[str, torch.Tensor]:
    """{layer: freq [num_classes, C]}: share of each class's samples whose gate on a kernel is > 0.

    Runs in eval mode on the split as given (callers pass the un-augmented training split).
    """
    if not model.gated:
        raise InvalidInputError("the model has no gates: only a modular (MwT) model can be modularized")
    return _firing_rates(model, model.forward_gates, split, num_classes, batch_size)


@torch.no_grad()
def activation_rates(
    model: CNN, split: Split, num_classes: int, batch_size: int = 512
) -> dict[str, torch.Tensor]:
    """{unit layer: rate [num_classes, C]}: share of each class's samples whose activation on a unit
    (ReLU'd conv channel or hidden FC neuron) is non-zero (MODA). Eval mode, the split as given."""
    return _firing_rates(model, model.forward_activations, split, num_classes, batch_size)


def _firing_rates(
    model: CNN, forward, split: Split, num_classes: int, batch_size: int
) -> dict[str, torch.Tensor]:
    """{layer: [num_classes, C]} share of each class's samples whose value on a unit is > 0, for a
    `forward(x) -> (logits, {layer: [B, C]})` of non-negative values (gates, post-ReLU activations)."""
    model.eval()
    device = next(model.parameters()).device
    fired: dict[str, torch.Tensor] = {}
    for i in range(0, len(split), batch_size):
        _, values = forward(split.x[i : i + batch_size].to(device))
        onehot = F.one_hot(split.y[i : i + batch_size], num_classes).float()
        for name, v in values.items():
            c = onehot.T @ (v.cpu() > 0).float()
            fired[name] = fired[name] + c if name in fired else c
    counts = torch.bincount(split.y, minlength=num_classes).float().clamp_min(1)
    return {name: f / counts[:, None] for name, f in fired.items()}


def kept_for_class(freqs: dict[str, torch.Tensor], cls: int, tau: float) -> dict[str, tuple[int, ...]]:
    """Kernels with freq >= tau per layer; a layer that keeps none lowers tau in steps of 0.05."""
    if not 0 < tau <= 1:
        raise InvalidInputError(f"tau must be in (0, 1], got {tau}", where="--tau")
    kept = {}
    for name, freq in freqs.items():
        f = freq[cls]
        t, step = tau, 0
        idx = torch.nonzero(f >= t).flatten()
        while len(idx) == 0 and t > 0:
            step += 1
            t = round(tau - 0.05 * step, 10)
            idx = torch.nonzero(f >= max(t, 1e-12)).flatten()
        if len(idx) == 0:  # the class never opens a gate here: keep its most frequent kernel
            idx = f.argmax().reshape(1)
        kept[name] = tuple(int(i) for i in idx)
    return kept


def module_masks(kept: dict[str, tuple[int, ...]], widths: dict[str, int]) -> dict[str, torch.Tensor]:
    """0/1 kernel masks per layer: what the modular model computes inside one module."""
    masks = {}
    for name, idx in kept.items():
        m = torch.zeros(widths[name])
        m[list(idx)] = 1.0
        masks[name] = m
    return masks
