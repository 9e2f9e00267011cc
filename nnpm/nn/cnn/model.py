"""torch side of the CNN families: one generic network that runs any resolved plan.

The same class is the standard model (no gates), the modular model (gates on every
conv but the first) and a physically pruned module (smaller convs whose channel sets
are subsets of the model's, with the gates sliced to the kept kernels). Residual adds
scatter both branches into the union of their channel sets, so a pruned module computes
exactly what the modular model computes when the gates outside the module are zero.

forward_activations serves activation-driven training (MODA): besides the logits it returns,
per sample, every ReLU'd conv channel's mean post-ReLU activation over space and every hidden
FC neuron's post-ReLU activation. A post-ReLU map whose mean is zero is zero everywhere, so a
unit that is zero on an input can be removed from the network without changing its output there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nnpm.nn.cnn.spec import (
    Add,
    Conv,
    Layout,
    Pool,
    conv_input,
    fc_name,
    fc_widths,
    generator_hidden,
    generator_kind,
    layout,
)
from nnpm.nn.layers import Normalize


class MaskGenerator(nn.Module):
    """gate = relu(tanh(W2 act(W1 avgpool(x)))): one gate in [0, 1] per output kernel, per sample.

    act is MwT's ReLU, or (the repaired MwT, generator = "leaky") a leaky ReLU: a hidden ReLU
    that dies gives its kernel a gate that no longer depends on the input (docs/cnn.md)."""

    def __init__(self, c_in: int, hidden: int, c_out: int, leaky: bool = False) -> None:
        super().__init__()
        self.w1 = nn.Linear(c_in, hidden, bias=False)
        self.w2 = nn.Linear(hidden, c_out)
        self.slope = LEAKY_SLOPE if leaky else 0.0
        nn.init.constant_(self.w2.bias, 1.0)  # all gates start open

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.w1(x.mean((2, 3)))
        h = F.leaky_relu(h, self.slope) if self.slope else torch.relu(h)
        return torch.relu(torch.tanh(self.w2(h)))


LEAKY_SLOPE = 0.1  # the repaired generator's negative slope


class ConvUnit(nn.Module):
    """conv -> BN -> [gate] -> [ReLU]; the gate multiplies the BN output before the ReLU."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        relu: bool,
        hidden: int | None,
        leaky: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.gen = MaskGenerator(c_in, hidden, c_out, leaky) if hidden else None
        self.relu = relu

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.bn(self.conv(x))
        gate = None
        if self.gen is not None:
            gate = self.gen(x)
            g = gate if mask is None else gate * mask
            out = out * g[:, :, None, None]
        return (torch.relu(out) if self.relu else out), gate


class CNN(nn.Module):
    """A network for one resolved Layout.

    forward(x) returns logits over all classes (output = "logits", a model package), or
    calibrated log-probabilities log softmax(logits / T) for `classes` (output = "logprob",
    a module package). forward_gates(x, masks) also returns every gate vector, and takes
    optional fixed 0/1 kernel masks per layer (used to check pruning and to study modules).
    """

    def __init__(
        self,
        lay: Layout,
        mean=(),
        std=(),
        pad: int = 0,
        resize: int = 0,
        output: str = "logits",
        classes: tuple[int, ...] = (),
        temperature: float = 1.0,
        score_bias: tuple[float, ...] = (),
        generator: str = "relu",
    ) -> None:
        super().__init__()
        self.lay = lay
        self.normalize = Normalize(tuple(mean), tuple(std))
        self.pad, self.resize = int(pad), int(resize)
        self.output, self.classes, self.temperature = output, tuple(classes), float(temperature)
        self.score_bias = tuple(float(b) for b in score_bias) or (0.0,) * len(self.classes)
        units = {}
        for i, op in enumerate(lay.ops):
            if isinstance(op, Conv):
                hidden = generator_hidden(lay.full_width[op.name]) if op.name in lay.gated else None
                units[op.name] = ConvUnit(len(conv_input(lay, op)), len(lay.channels[i]), op.kernel, op.stride,
                                          op.relu, hidden, leaky=generator == "leaky")  # fmt: skip
        self.convs = nn.ModuleDict(units)
        for i, op in enumerate(lay.ops):  # where each branch lands inside the union at an add
            if isinstance(op, Add):
                union = {c: j for j, c in enumerate(lay.channels[i])}
                for side, src in (("a", op.a), ("b", op.b)):
                    pos = torch.tensor([union[c] for c in self._chan(src)], dtype=torch.long)
                    self.register_buffer(f"add{i}_{side}", pos, persistent=False)
        widths = fc_widths(lay)
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False))

    def _chan(self, i: int) -> tuple[int, ...]:
        return tuple(range(self.lay.in_channels)) if i < 0 else self.lay.channels[i]

    @property
    def gated(self) -> tuple[str, ...]:
        return self.lay.gated

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        if self.pad:
            x = F.pad(x, [self.pad] * 4)
        return self.normalize(x)

    def forward_gates(
        self, x: torch.Tensor, masks: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits [B, num_classes] and {gated layer: gates [B, C]}."""
        logits, gates, _ = self._run(x, masks, activations=False)
        return logits, gates

    def forward_activations(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits and {unit layer: activations [B, C]}: each ReLU'd conv's channels (post-ReLU mean
        over space, keyed by the conv's name) and each hidden FC layer's neurons (post-ReLU, "fc.j")."""
        logits, _, acts = self._run(x, None, activations=True)
        return logits, acts

    def _run(
        self, x: torch.Tensor, masks: dict[str, torch.Tensor] | None, activations: bool
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        x = self.prepare(x)
        outs: list[torch.Tensor] = []
        gates: dict[str, torch.Tensor] = {}
        acts: dict[str, torch.Tensor] = {}
        get = lambda i: x if i < 0 else outs[i]  # noqa: E731
        for i, op in enumerate(self.lay.ops):
            if isinstance(op, Conv):
                out, gate = self.convs[op.name](get(op.src), None if masks is None else masks.get(op.name))
                if gate is not None:
                    gates[op.name] = gate
                if activations and op.relu:
                    acts[op.name] = out.mean((2, 3))
            elif isinstance(op, Pool):
                out = (
                    F.max_pool2d(get(op.src), 2)
                    if self.lay.sizes[i] != self.lay.sizes[op.src]
                    else get(op.src)
                )
            else:
                out = self._add(i, get(op.a), get(op.b))
            outs.append(out)
        h = outs[-1].mean((2, 3))
        for j, layer in enumerate(self.fc):
            h = layer(h)
            if j < len(self.fc) - 1:
                h = torch.relu(h)
                if activations:
                    acts[fc_name(j)] = h
        return h, gates, acts

    def _add(self, i: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        pa, pb = getattr(self, f"add{i}_a"), getattr(self, f"add{i}_b")
        n = len(self.lay.channels[i])
        if len(pa) == n and len(pb) == n:
            return torch.relu(a + b)
        out = a.new_zeros(a.shape[0], n, *a.shape[2:])
        out = out.index_add(1, pa, a).index_add(1, pb, b)
        return torch.relu(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits, _ = self.forward_gates(x)
        if self.output == "logprob":
            return self.logprob(logits)
        return logits

    def logprob(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated log p(class | x) for this network's classes (nnpm.nn.cnn.score)."""
        from nnpm.nn.cnn.score import calibrated_logprob

        if not self.classes:
            return torch.log_softmax(logits / self.temperature, dim=1)
        return calibrated_logprob(logits, self.classes, self.temperature, self.score_bias)


def build_cnn(arch, context=None) -> CNN:
    p = arch.params
    return CNN(
        layout(arch),
        arch.input.mean,
        arch.input.std,
        pad=int(p.get("pad", 0)),
        resize=int(p.get("resize", 0)),
        output=str(p.get("output", "logits")),
        classes=tuple(int(c) for c in p.get("classes", ())),
        temperature=float(p.get("temperature", 1.0)),
        score_bias=tuple(float(b) for b in p.get("score_bias", ())),
        generator=generator_kind(arch),
    )
