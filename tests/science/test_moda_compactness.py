"""MODA's compactness weighed by cost (`--compactness macs|cost`): the weights follow the layers'
multiply-adds and parameters, the loss uses them, training records them, and a misuse is one line."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from nnpm.cli import main
from nnpm.errors import InvalidInputError
from nnpm.nn.cnn.spec import layout, multiply_adds, unit_layers
from nnpm.package.manifest import Architecture, InputSpec
from nnpm.science.cnn.losses import compactness_weights, moda_losses
from nnpm.science.cnn.train import TrainConfig


def _lay(retained: dict | None = None):
    params = {"num_classes": 10, "width": 0.125, "gated": False}
    return layout(Architecture("simcnn", InputSpec((1, 28, 28), (0.5,), (0.25,)), params, retained or {}))


def test_multiply_adds_count_kept_channels_at_each_resolution() -> None:
    lay = _lay()
    macs = multiply_adds(lay)
    assert macs["conv0"] == 1 * 8 * 9 * 28 * 28
    assert macs["conv1"] == 8 * 8 * 9 * 28 * 28
    assert macs["fc.0"] == 64 * 64 and macs["fc.out"] == 64 * 10
    pruned = multiply_adds(_lay({"conv0": (0, 1), "conv1": (2,)}))
    assert pruned["conv0"] == 2 * 9 * 28 * 28
    assert pruned["conv1"] == 2 * 1 * 9 * 28 * 28
    assert pruned["conv2"] == macs["conv2"] // 8  # its input is conv1's one kept channel


def test_weights_follow_the_layers_cost_and_sum_to_one() -> None:
    lay = _lay()
    assert compactness_weights(lay, "layers") is None  # MODA's mean over layers
    macs = compactness_weights(lay, "macs")
    cost = compactness_weights(lay, "cost")
    for weights in (macs, cost):
        assert tuple(weights) == unit_layers(lay)
        assert abs(sum(weights.values()) - 1) < 1e-9
    counted = multiply_adds(lay)
    assert macs["conv1"] / macs["conv12"] == pytest.approx(counted["conv1"] / counted["conv12"])
    assert macs["conv1"] > 1 / len(macs) > macs["conv12"]  # 28x28 above, 1x1 below the plain mean
    assert cost["conv12"] > macs["conv12"]  # a late wide conv holds parameters, not arithmetic


def test_weighted_compactness_is_the_weighted_sum() -> None:
    acts = {"a": torch.tensor([[1.0, 3.0], [0.0, 0.0]]), "b": torch.tensor([[4.0], [0.0]])}
    labels = torch.tensor([0, 1])
    _, _, plain = moda_losses(acts, labels)
    _, _, weighted = moda_losses(acts, labels, {"a": 0.25, "b": 0.75})
    assert float(plain) == pytest.approx((1.0 + 2.0) / 2)
    assert float(weighted) == pytest.approx(0.25 * 1.0 + 0.75 * 2.0)


def test_training_records_the_scheme(workdir, capsys) -> None:
    main(["-q", "modularize", "cnn", "--method", "moda", "--compactness", "macs", "--width", "0.0625",
          "--epochs", "1", "--batch-size", "64", "--namespace", "t", "--out", "out", "--json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["config"]["compactness"] == "macs"
    manifest = (workdir / "out" / "digit-0-module" / "nnpm.toml").read_text()
    assert 'compactness = "macs"' in manifest


def test_unknown_or_misplaced_compactness_is_refused(capsys, workdir) -> None:
    with pytest.raises(InvalidInputError, match="unknown compactness"):
        TrainConfig(method="moda", compactness="flops")
    with pytest.raises(InvalidInputError, match="has none"):
        replace(TrainConfig(), compactness="macs")  # MwT has no compactness term
    for args, needle in (
        (["--method", "mwt", "--compactness", "macs"], "--compactness applies to --method moda only"),
        (["--method", "moda", "--compactness", "flops"], "flops"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(["modularize", "cnn", *args])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err
