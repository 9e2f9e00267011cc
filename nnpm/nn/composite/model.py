"""The composite network: modules side by side, one score per class.

Every module package returns calibrated log-probabilities log p(class | x) for the
classes it serves (docs/package-format.md), so scores from different modules, even
from different source models, are comparable and the composite's prediction is the
argmax over them (rule "argmax-calibrated"). Modules of one source model whose family can
fuse run as one network, the model pruned to the union of their units; such a model may
record that its composites read that network's logits restricted to their classes instead
(rule "union-restricted", MODA's), when that measured better on validation. A composite adds
at most a per-class affine correction of its scores (`adjust`), which `--finetune` fits;
without it the composite has no weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from nnpm.errors import CompositionError
from nnpm.package.naming import Requirement

if TYPE_CHECKING:
    from nnpm.nn.build import BuildContext
    from nnpm.nn.loader import Loader
    from nnpm.package.manifest import Architecture, Manifest

#: The family whose modules are routed by language instead of compared by score.
TRANSLATOR_FAMILY = "rnn-seq2seq"
CALIBRATED, UNION, ROUTED = "argmax-calibrated", "union-restricted", "route-by-language"


class ScoreAdjust(nn.Module):
    """score' = scale * score + bias, per class: the only thing fine-tuning trains."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(num_classes))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return scores * self.scale + self.bias


class Composite(nn.Module):
    """forward(x) -> [B, K] (or [B, T, K] for per-step modules) scores over `self.classes`.

    `fused`, when given, computes all K scores in one forward (modules of one source
    model, see nnpm.nn.cnn.fuse); otherwise every module runs on the batch.
    """

    def __init__(
        self,
        modules: Sequence[nn.Module],
        classes: Sequence[str],
        *,
        adjust: bool = False,
        fused: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)
        self.classes = tuple(classes)
        self.adjust = ScoreAdjust(len(self.classes)) if adjust else None
        self.fused = fused

    @property
    def mode(self) -> str:
        return "fused" if self.fused is not None else "batched"

    @property
    def rule(self) -> str:
        """How class scores are compared: the fused network's rule, else calibrated scores."""
        return getattr(self.fused, "rule", CALIBRATED) if self.fused is not None else CALIBRATED

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            scores = self.fused(x)
        else:
            scores = torch.cat([part(x) for part in self.parts], dim=-1)
        return self.adjust(scores) if self.adjust is not None else scores

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Indices into `self.classes`."""
        return self(x).argmax(-1)

    def own_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors a composite package stores: only what it adds, never the modules' weights."""
        return (
            {f"adjust.{k}": v for k, v in self.adjust.state_dict().items()} if self.adjust is not None else {}
        )


class Router(nn.Module):
    """A composite of translation modules: each request goes to the module serving its language.

    `classes` are the target languages. Modules may come from different models as long as they
    share one embedding package (checked when composing): that is how a language is added to a
    translator. No weights of its own; `generate` decodes greedily, `forward` is teacher-forced.
    """

    mode = "routed"
    rule = ROUTED
    adjust = None

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)
        self.classes = tuple(lang for m in modules for lang in m.languages)

    def serving(self, language: str) -> nn.Module:
        for part in self.parts:
            if language in part.languages:
                return part
        raise CompositionError(
            f"no module serves language {language!r}", hint=f"served: {', '.join(self.classes)}"
        )

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, languages: Sequence[str]) -> torch.Tensor:
        """Teacher-forced log-probabilities [B, T, V]; row i is scored by the module for languages[i]."""
        out: torch.Tensor | None = None
        for lang in sorted(set(languages)):
            rows = torch.tensor([i for i, item in enumerate(languages) if item == lang])
            scores = self.serving(lang)(src[rows], tgt_in[rows])
            if out is None:
                out = scores.new_zeros(src.shape[0], *scores.shape[1:])
            out[rows] = scores
        return out if out is not None else torch.zeros(0)

    @torch.no_grad()
    def generate(
        self, src: torch.Tensor, languages: Sequence[str], max_len: int, eos_id: int
    ) -> list[list[int]]:
        """Greedy translations of row i into languages[i], without padding or <eos>."""
        from nnpm.nn.rnn.infer import route

        return route(list(self.parts), src, list(languages), max_len, eos_id)

    def own_state_dict(self) -> dict[str, torch.Tensor]:
        return {}


def common_source(manifests: Sequence[Manifest]) -> Requirement | None:
    """`model==version` when every module was cut from the same source model build, else None."""
    sources = {(m.source.model, m.source.version, m.source.sha256) for m in manifests}
    if len(sources) != 1:
        return None
    model, version, sha256 = sources.pop()
    if not (model and version and sha256):
        return None
    return Requirement.of(model, f"=={version}")


def fuse_if_possible(
    networks: Sequence[nn.Module], loader: Loader | None, rule: str | None = None
) -> nn.Module | None:
    """One fused forward when all modules share an available source model whose family can fuse.

    rule None lets the fuser read the rule the source model recorded; a composite package passes
    the rule it was written with, so loading it later computes what composing it computed."""
    from nnpm.nn.build import fuser

    manifests = [n.manifest for n in networks]
    source = common_source(manifests)
    fuse = fuser(manifests[0].architecture.family) if source and loader else None
    if fuse is None:
        return None
    ref = loader.source.find(source, manifests[0].source.sha256)
    if ref is None:
        return None
    model = loader.load(ref)
    return fuse(model, manifests) if rule is None else fuse(model, manifests, rule=rule)


def assemble(networks: Sequence[nn.Module], loader: Loader | None = None) -> Composite | Router:
    """Route translation modules by language; put classifier modules side by side (fused if possible)."""
    if networks[0].manifest.architecture.family == TRANSLATOR_FAMILY:
        return Router(networks)
    classes = [c for n in networks for c in n.manifest.source.classes]
    return Composite(networks, classes, fused=fuse_if_possible(networks, loader))


def build_composite(arch: Architecture, context: BuildContext) -> Composite | Router:
    """Family builder: the modules come from the verified dependencies, in the recorded order."""
    modules = [context.dependencies[name] for name in arch.params["modules"]]
    rule = arch.params.get("rule", CALIBRATED)
    if rule == ROUTED:
        return Router(modules)
    fused = fuse_if_possible(modules, context.loader, rule)
    if rule == UNION and fused is None:
        source = common_source([m.manifest for m in modules])
        raise CompositionError(
            f"this composite reads the union of its modules' units in {source or 'their source model'}, "
            "which is not available",
            hint=f"install {source or 'the source model'} (its modules depend on it), then load again",
        )
    adjust = bool(arch.params.get("finetuned"))
    return Composite(modules, arch.params["classes"], adjust=adjust, fused=fused)
