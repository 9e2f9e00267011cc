"""Every CNN family's torch state dict matches the shapes its torch-free spec promises, full and pruned,
and a pruned module computes what the masked modular model computes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from nnpm.nn.cnn.model import build_cnn
from nnpm.nn.cnn.prune import module_architecture, prune_state
from nnpm.nn.cnn.spec import FAMILY_NAMES, cnn_shapes, layout
from nnpm.package.manifest import Architecture, InputSpec
from nnpm.science.cnn.extract import module_masks

FAMILIES = list(FAMILY_NAMES)


def _arch(family: str, size: int = 8, channels: int = 1, gated: bool = True) -> Architecture:
    params = {"num_classes": 10, "width": 0.0625, "gated": gated}
    return Architecture(
        family, InputSpec((channels, size, size), (0.5,) * channels, (0.25,) * channels), params
    )


def _random_kept(arch: Architecture, seed: int) -> dict[str, tuple[int, ...]]:
    gen = torch.Generator().manual_seed(seed)
    lay = layout(arch)
    kept = {}
    for name in lay.gated:
        w = lay.full_width[name]
        n = int(torch.randint(1, w + 1, (1,), generator=gen))
        kept[name] = tuple(sorted(torch.randperm(w, generator=gen)[:n].tolist()))
    return kept


def _randomised(arch: Architecture):
    """A model with non-trivial BN statistics and gates that are not all open."""
    torch.manual_seed(0)
    net = build_cnn(arch)
    for unit in net.convs.values():
        unit.bn.running_mean.uniform_(-0.5, 0.5)
        unit.bn.running_var.uniform_(0.5, 2.0)
        if unit.gen is not None:
            unit.gen.w2.bias.data.uniform_(-0.5, 1.5)
    return net.eval()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size,channels", [(8, 1), (28, 1), (32, 3)])
def test_state_dict_matches_spec_full(family: str, size: int, channels: int) -> None:
    arch = _arch(family, size, channels)
    net = build_cnn(arch)
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == cnn_shapes(arch)
    assert net(torch.rand(2, channels, size, size)).shape == (2, 10)


@pytest.mark.parametrize("family", FAMILIES)
def test_pruned_module_matches_spec_and_masked_model(family: str) -> None:
    arch = _arch(family)
    model = _randomised(arch)
    kept = _random_kept(arch, seed=1)
    marc = module_architecture(arch, kept, (3,), temperature=1.7)
    state = prune_state(model.state_dict(), arch, marc)
    assert {k: tuple(v.shape) for k, v in state.items()} == cnn_shapes(marc)
    module = build_cnn(marc)
    module.load_state_dict(state)
    module.eval()
    x = torch.rand(16, 1, 8, 8)
    with torch.no_grad():
        masked, _ = model.forward_gates(x, module_masks(kept, layout(arch).full_width))
        pruned, _ = module.forward_gates(x)
        scores = module(x)
    assert sum(p.numel() for p in module.parameters()) < sum(p.numel() for p in model.parameters())
    torch.testing.assert_close(pruned, masked, atol=1e-5, rtol=1e-5)
    expected = torch.log_softmax(masked / 1.7, dim=1)[:, [3]]
    torch.testing.assert_close(scores, expected, atol=1e-5, rtol=1e-5)


def test_residual_add_keeps_union_of_branches() -> None:
    arch = _arch("resnet18")
    lay = layout(arch)
    kept = {name: (0,) for name in lay.gated}
    kept["conv2"] = (1,)  # second conv of the first block; the shortcut is the stem (all channels)
    mlay = layout(module_architecture(arch, kept, (0,), 1.0))
    add = next(i for i, op in enumerate(mlay.ops) if type(op).__name__ == "Add")
    assert mlay.channels[add] == tuple(range(lay.full_width["conv0"]))


def test_specs_do_not_import_torch() -> None:
    code = "import sys, nnpm.nn.cnn.spec; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_families_are_registered() -> None:
    from nnpm.package import families

    assert set(FAMILY_NAMES) <= set(families.families())
    assert families.expected_shapes(_arch("simcnn")) == cnn_shapes(_arch("simcnn"))
