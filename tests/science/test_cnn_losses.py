"""Cohesion and coupling as science.md defines them, on gate vectors whose answer is known."""

from __future__ import annotations

import torch

from nnpm.science.cnn.losses import layer_losses, mwt_losses


def test_identical_same_class_and_orthogonal_other_class() -> None:
    gates = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    cohesion, coupling = layer_losses(gates, labels)
    assert float(cohesion) == 0.0
    assert float(coupling) == 0.0


def test_all_same_direction_is_fully_coupled() -> None:
    gates = torch.ones(4, 3)
    cohesion, coupling = layer_losses(gates, torch.tensor([0, 1, 0, 1]))
    assert abs(float(coupling) - 1.0) < 1e-6
    assert abs(float(cohesion)) < 1e-6


def test_averaged_over_layers_and_differentiable() -> None:
    g1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    g2 = torch.tensor([[1.0, 1.0], [1.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, 1])
    cohesion, coupling = mwt_losses({"a": g1, "b": g2}, labels)
    assert abs(float(coupling.detach()) - 0.5) < 1e-6  # (0 + 1) / 2
    assert float(cohesion) == 0.0  # no same-label pairs
    coupling.backward()
    assert g2.grad is not None


def test_the_one_matrix_form_equals_the_per_layer_definition_with_its_gradients() -> None:
    torch.manual_seed(0)
    gates = {f"l{i}": torch.relu(torch.randn(32, c)).requires_grad_() for i, c in enumerate((4, 16, 9))}
    with torch.no_grad():
        gates["l0"][:3] = 0  # closed everywhere: similarity 0, no NaN
    labels = torch.randint(0, 4, (32,))
    fast = mwt_losses(gates, labels)
    pairs = [layer_losses(g, labels) for g in gates.values()]
    slow = (torch.stack([p[0] for p in pairs]).mean(), torch.stack([p[1] for p in pairs]).mean())
    grads = []
    for cohesion, coupling in (fast, slow):
        grads.append(torch.autograd.grad(cohesion + 2 * coupling, list(gates.values())))
    assert torch.allclose(fast[0], slow[0], atol=1e-6) and torch.allclose(fast[1], slow[1], atol=1e-6)
    for a, b, g in zip(grads[0], grads[1], gates.values(), strict=True):
        open_rows = g.detach().norm(dim=1) > 0
        assert torch.allclose(a[open_rows], b[open_rows], atol=1e-6)
        assert not torch.isnan(a).any()
