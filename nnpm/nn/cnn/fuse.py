"""One fused forward for several modules of one modular CNN.

Modules cut from the same model share the kernels they have in common. Instead of
running each module, prune the model once to the union of their kernels (gates
sliced the same way) and read every module's calibrated class score off that one
network. The result is exact with respect to the modular model: it computes what the
model computes when the gates outside the union are zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import nn

from nnpm.nn.cnn.model import CNN, build_cnn
from nnpm.nn.cnn.prune import prune_state
from nnpm.nn.cnn.score import calibrated_logprob
from nnpm.package.manifest import Manifest


def union_of_kernels(modules: Sequence[Manifest]) -> dict[str, tuple[int, ...]]:
    layers = sorted({layer for m in modules for layer in m.architecture.retained})
    return {
        layer: tuple(sorted({k for m in modules for k in m.architecture.retained.get(layer, ())}))
        for layer in layers
    }


class FusedModules(nn.Module):
    """forward(x) -> [B, K]: each module's calibrated log p(its classes | x), from one backbone."""

    nnpm_provided = True  # its tensors come from the verified model package, not the composite's files

    def __init__(self, backbone: CNN, modules: Sequence[Manifest]) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = [_head(m.architecture.params) for m in modules]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.backbone(x)
        return torch.cat([calibrated_logprob(logits, cls, t, b) for t, cls, b in self.heads], dim=1)


def _head(params: dict) -> tuple[float, list[int], tuple[float, ...]]:
    """(temperature, classes, biases) of one module, as its own network would score them."""
    classes = [int(c) for c in params["classes"]]
    biases = tuple(float(b) for b in params.get("score_bias", ())) or (0.0,) * len(classes)
    return float(params.get("temperature", 1.0)), classes, biases


def fuse(model: CNN, modules: Sequence[Manifest]) -> FusedModules:
    """The model pruned to the union of the modules' kernels, scoring every module's classes."""
    model_arch = model.manifest.architecture
    params = {**model_arch.params, "output": "logits", "classes": [], "temperature": 1.0, "score_bias": []}
    arch = replace(model_arch, params=params, retained=union_of_kernels(modules))
    backbone = build_cnn(arch)
    backbone.load_state_dict(prune_state(model.state_dict(), model_arch, arch))
    return FusedModules(backbone.eval(), modules).eval()
