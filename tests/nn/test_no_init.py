"""`nnpm.load` builds networks without random initialisation (nnpm.nn.noinit), then loads every
tensor: what it returns computes bit for bit what the old way computes (torch's initialisation,
then the same load), for an MLP, a gated CNN model and one of its modules, a fused composite, and
an RNN translator, whose decoder bridge is a buffer that is not saved but computed from the spec."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import nnpm.nn.loader as loader_module
from nnpm import api
from nnpm.nn.loader import load_directory
from nnpm.nn.noinit import no_init
from tests.factories import make_package


def test_no_init_skips_torch_initialisation_in_its_own_thread_only():
    before = torch.random.get_rng_state()
    with no_init():
        nn.Linear(64, 64), nn.Conv2d(3, 8, 3), nn.LSTM(4, 4), nn.Embedding(10, 4), nn.BatchNorm2d(8)
        assert torch.equal(torch.random.get_rng_state(), before)  # not one random number drawn

        elsewhere = {}

        def build():  # another thread, meanwhile: initialised as usual
            torch.manual_seed(7)
            elsewhere["weight"] = nn.Linear(4, 4).weight.detach().clone()

        thread = threading.Thread(target=build)
        thread.start()
        thread.join()
    torch.manual_seed(7)
    assert torch.equal(elsewhere["weight"], nn.Linear(4, 4).weight.detach())
    torch.manual_seed(7)
    first = nn.Linear(4, 4).weight.detach().clone()
    torch.manual_seed(7)
    assert torch.equal(first, nn.Linear(4, 4).weight.detach())  # outside: nothing changed


def _both_ways(load, monkeypatch) -> tuple[nn.Module, nn.Module]:
    """(the network as nnpm.load builds it now, as it was built before: initialised, then loaded);
    the first must not draw a single random number."""
    before = torch.random.get_rng_state()
    new = load()
    assert torch.equal(torch.random.get_rng_state(), before), "loading drew random numbers"
    with monkeypatch.context() as patch:
        patch.setattr(loader_module, "no_init", contextlib.nullcontext)
        old = load()
    return new, old


def _assert_same(new: nn.Module, old: nn.Module, *inputs) -> None:
    """Every parameter and buffer (saved or not) equal, and the outputs equal bit for bit."""
    for named in ("named_parameters", "named_buffers"):
        mine, theirs = dict(getattr(new, named)()), dict(getattr(old, named)())
        assert mine.keys() == theirs.keys()
        for key, tensor in mine.items():
            same = tensor.dtype == theirs[key].dtype and tensor.stride() == theirs[key].stride()
            assert same and torch.equal(tensor, theirs[key]), key
    with torch.no_grad():
        assert torch.equal(new(*inputs), old(*inputs))


def test_an_mlp_loads_as_it_did(tmp_path, monkeypatch):
    package = make_package(tmp_path, seed=3)
    new, old = _both_ways(lambda: load_directory(package), monkeypatch)
    _assert_same(new, old, torch.rand(16, 1, 8, 8))


@pytest.fixture(scope="module")
def digits_cnn(tmp_path_factory) -> Path:
    """A gated SimCNN modularized on digits (MwT, one epoch) and its ten modules."""
    from nnpm.science.cnn.mwt import quickstart_digits

    out = tmp_path_factory.mktemp("digits-cnn")
    quickstart_digits(out, namespace="digits", epochs=1, seed=0)
    return out


@pytest.mark.slow
def test_a_cnn_model_a_module_and_a_fused_composite_load_as_they_did(digits_cnn, tmp_path, monkeypatch):
    images = torch.rand(32, 1, 8, 8)
    for name in ("simcnn", "digit-3-module"):
        new, old = _both_ways(lambda name=name: load_directory(digits_cnn / name), monkeypatch)
        _assert_same(new, old, images)
    packages = sorted(p for p in digits_cnn.iterdir() if (p / "nnpm.toml").is_file())
    for directory in sorted(packages, key=lambda p: p.name != "simcnn"):  # the model first
        api.publish(directory)
    api.install(["digits/digit-3-module", "digits/digit-8-module"], project=False)
    out = tmp_path / "composite"
    api.compose_package(["digits/digit-3-module", "digits/digit-8-module"], name="mine/three-eight", out=out,
                        dataset="digits", finetune=True, epochs=2)  # fmt: skip
    new, old = _both_ways(lambda: load_directory(out), monkeypatch)
    assert new.mode == "fused" and new.adjust is not None  # its own tensors, and the model fused under it
    _assert_same(new, old, images)


@pytest.mark.slow
def test_an_rnn_translator_loads_as_it_did(tmp_path, monkeypatch):
    from nnpm.cli import cli

    out = tmp_path / "mt"
    args = ["train", "rnn", "--cell", "gru", "--task", "translate", "--dataset", "num2words",
            "--languages", "fr,de", "--hidden", "8", "--embedding-dim", "8", "--epochs", "1",
            "--namespace", "numbers", "--out", str(out), "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    new, old = _both_ways(lambda: load_directory(out / "gru-translator"), monkeypatch)
    assert any(name.startswith("bridge_") for name, _ in new.named_buffers())
    src = torch.randint(3, 20, (4, 6))
    _assert_same(new, old, src, torch.randint(3, 20, (4, 5)))
