"""The `mlp` family: a small fully connected classifier, the smallest real network a package can hold."""

from __future__ import annotations

import math

from nnpm.package.families import Family, param


def mlp_shapes(arch) -> dict[str, tuple[int, ...]]:
    widths = [math.prod(arch.input.shape), *param(arch, "hidden"), int(param(arch, "num_outputs"))]
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:], strict=False)):
        shapes[f"layers.{i}.weight"] = (int(n_out), int(n_in))
        shapes[f"layers.{i}.bias"] = (int(n_out),)
    return shapes


MLP = Family(
    name="mlp",
    description="flatten -> [linear -> relu] * len(hidden) -> linear; params: hidden, num_outputs",
    shapes=mlp_shapes,
    builder="nnpm.nn.mlp.model:build_mlp",
)
