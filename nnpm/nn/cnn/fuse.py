"""One fused forward for several modules of one modular CNN, by either composition rule.

Modules cut from the same model share the units they have in common. Instead of running
each module, prune the model once to the union of their units (gates sliced the same way)
and read every class's score off that one network. Two rules read it:

- "union-restricted" (MODA's): the union network's logits restricted to the composite's
  classes, as log softmax over those classes only. Nothing but the model's own output layer.
- "argmax-calibrated": each module's calibrated log p(class | x) (nnpm.nn.cnn.score), the
  rule that also compares modules of different models.

Either way the result is exact with respect to the model: it computes what the model computes
when the units outside the union are zero. Which rule a model's composites use was chosen on
validation when it was modularized (its manifest's metrics.extra.composition_rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import nn

from nnpm.errors import CompositionError
from nnpm.nn.cnn.model import CNN, build_cnn
from nnpm.nn.cnn.prune import prune_state
from nnpm.nn.cnn.score import calibrated_logprob
from nnpm.package.manifest import Architecture, Manifest

UNION = "union-restricted"
CALIBRATED = "argmax-calibrated"
RULES = (UNION, CALIBRATED)


def union_of_kernels(archs: Sequence[Architecture]) -> dict[str, tuple[int, ...]]:
    layers = sorted({layer for a in archs for layer in a.retained})
    return {layer: tuple(sorted({k for a in archs for k in a.retained.get(layer, ())})) for layer in layers}


class FusedModules(nn.Module):
    """forward(x) -> [B, K]: a log-probability per composite class, from one backbone."""

    nnpm_provided = True  # its tensors come from the verified model package, not the composite's files

    def __init__(self, backbone: CNN, archs: Sequence[Architecture], rule: str = CALIBRATED) -> None:
        super().__init__()
        if rule not in RULES:
            raise CompositionError(f"unknown composition rule {rule!r}", hint=f"known: {', '.join(RULES)}")
        self.backbone, self.rule = backbone, rule
        self.heads = [_head(a.params) for a in archs]
        self.classes = [c for _, classes, _ in self.heads for c in classes]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.backbone(x)
        if self.rule == UNION:
            return torch.log_softmax(logits[:, self.classes], dim=1)
        return torch.cat([calibrated_logprob(logits, cls, t, b) for t, cls, b in self.heads], dim=1)


def _head(params: dict) -> tuple[float, list[int], tuple[float, ...]]:
    """(temperature, classes, biases) of one module, as its own network would score them."""
    classes = [int(c) for c in params["classes"]]
    biases = tuple(float(b) for b in params.get("score_bias", ())) or (0.0,) * len(classes)
    return float(params.get("temperature", 1.0)), classes, biases


def union_network(
    state: dict[str, torch.Tensor], model_arch: Architecture, archs: Sequence[Architecture]
) -> CNN:
    """The model pruned to the union of the modules' units, returning logits over all classes."""
    params = {**model_arch.params, "output": "logits", "classes": [], "temperature": 1.0, "score_bias": []}
    arch = replace(model_arch, params=params, retained=union_of_kernels(archs))
    backbone = build_cnn(arch)
    backbone.load_state_dict(prune_state(state, model_arch, arch))
    return backbone.eval()


def fuse_architectures(
    model: CNN, model_arch: Architecture, archs: Sequence[Architecture], rule: str = CALIBRATED
) -> FusedModules:
    """FusedModules for module specs (what extraction has before any package is written)."""
    return FusedModules(union_network(model.state_dict(), model_arch, archs), archs, rule).eval()


def fuse(model: CNN, modules: Sequence[Manifest], rule: str | None = None) -> FusedModules:
    """The family's fuser: `rule` as given, else the one recorded in the model's manifest."""
    rule = rule or recorded_rule(model.manifest)
    archs = [m.architecture for m in modules]
    return fuse_architectures(model, model.manifest.architecture, archs, rule)


def recorded_rule(model: Manifest) -> str:
    """The rule chosen on validation when the model was modularized; models from before the choice
    existed compose by calibrated score, as they always did."""
    return str(model.metrics.extra.get("composition_rule", CALIBRATED))
