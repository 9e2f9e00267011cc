"""The `composite` family (torch-free side): a composite holds no module weights, only
the modules' names (dependencies) and, when fine-tuned, a per-class score adjustment."""

from __future__ import annotations

from nnpm.package.families import Family


def composite_shapes(arch) -> dict[str, tuple[int, ...]]:
    if not arch.params.get("finetuned"):
        return {}
    k = len(arch.params["classes"])
    return {"adjust.scale": (k,), "adjust.bias": (k,)}


COMPOSITE = Family(
    name="composite",
    description="argmax over the calibrated class scores of its module dependencies; params: modules, classes",
    shapes=composite_shapes,
    builder="nnpm.nn.composite.model:build_composite",
)
