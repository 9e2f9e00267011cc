"""RNN families: our forward equals torch's, and built networks hold exactly the tensors the spec lists."""

from __future__ import annotations

import pytest
import torch

from nnpm.nn.build import BuildContext, build
from nnpm.nn.rnn import spec as specs
from nnpm.nn.rnn.model import Embedding, Stack, manual_stack
from nnpm.package.families import expected_shapes
from nnpm.package.manifest import Architecture, InputSpec


@pytest.mark.parametrize("cell", specs.CELLS)
def test_manual_forward_matches_torch(cell):
    torch.manual_seed(0)
    stack = Stack(cell, 7, [6, 5, 4])
    x = torch.randn(3, 9, 7)
    ours, theirs = manual_stack(stack, x), stack(x)[0]
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_gru_reset_gate_is_applied_after_the_recurrent_product():
    """A GRU with r applied before W_hn (the reference's bug) would differ from torch; ours does not."""
    torch.manual_seed(1)
    stack = Stack("gru", 3, [4])
    with torch.no_grad():
        stack.layers[0].bias_hh_l0.fill_(2.0)  # b_hn != 0 makes the two conventions disagree
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(manual_stack(stack, x)[0], stack(x)[0][0], atol=1e-5, rtol=0)


def _arch(family, **params):
    return Architecture(
        family=family, input=InputSpec(shape=(8,), dtype="int64"), params=params, vocabulary="t/embedding"
    )


CASES = [
    _arch("embedding", vocab_size=11, dim=5),
    *[
        _arch(f, cell=c, embedding_dim=5, hidden_sizes=h, num_outputs=3, output="logits")
        for f in ("rnn-tagger", "rnn-classifier")
        for c in specs.CELLS
        for h in ([6], [6, 4], [3, 2, 2, 1])
    ],  # fmt: skip
    *[
        _arch(
            "rnn-seq2seq",
            cell=c,
            embedding_dim=5,
            encoder_sizes=d,
            decoder_sizes=d,
            num_outputs=11,
            languages=["fr"],
            language_tokens=["<2fr>"],
        )
        for c in specs.CELLS
        for d in ([6, 6], [6])
    ],  # fmt: skip
]


@pytest.mark.parametrize(
    "arch", CASES, ids=lambda a: f"{a.family}-{a.params.get('cell', '')}-{a.params.get('hidden_sizes', '')}"
)
def test_state_dict_matches_family_shapes(arch):
    ctx = BuildContext(dependencies={"t/embedding": Embedding(11, 5)})
    net = build(arch, ctx)
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert got == expected_shapes(arch)


def test_pruned_seq2seq_shapes_follow_retained_units():
    from dataclasses import replace

    arch = _arch("rnn-seq2seq", cell="lstm", embedding_dim=5, encoder_sizes=[6, 6], decoder_sizes=[4, 5],
                 num_outputs=11, languages=["fr"], language_tokens=["<2fr>"])  # fmt: skip
    arch = replace(arch, retained={"decoder.0": (0, 1, 2, 5), "decoder.1": (0, 1, 2, 3, 4)})
    net = build(arch, BuildContext(dependencies={"t/embedding": Embedding(11, 5)}))
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == expected_shapes(arch)


def test_specs_do_not_import_torch():
    import subprocess
    import sys

    code = "import sys, nnpm.nn.rnn.spec; print('torch' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )
