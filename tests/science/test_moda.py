"""MODA (activation-driven modular training) on the bundled digits: activations, losses that fall,
physically pruned conv channels and FC neurons that change nothing where they are zero, packages that
record the method, and one clear line for bad arguments."""

from __future__ import annotations

import json

import pytest
import torch

from nnpm.cli import main
from nnpm.datasets.images import load_image_dataset
from nnpm.errors import InvalidInputError
from nnpm.nn.cnn.model import build_cnn
from nnpm.nn.cnn.prune import module_architecture, prune_state
from nnpm.nn.cnn.spec import FAMILY_NAMES, cnn_shapes, layout, unit_layers
from nnpm.package.manifest import Architecture, InputSpec
from nnpm.package.pack import check_package
from nnpm.science.cnn.losses import moda_losses
from nnpm.science.cnn.mwt import modularize, train_modular
from nnpm.science.cnn.train import TrainConfig

CFG = TrainConfig(epochs=3, batch_size=32, method="moda", alpha=1.0, beta=1.0, gamma=0.3, tau=0.9, seed=0)


def _arch(family: str, size: int = 8) -> Architecture:
    params = {"num_classes": 10, "width": 0.0625, "gated": False}
    return Architecture(family, InputSpec((1, size, size), (0.5,), (0.25,)), params)


@pytest.fixture(scope="module")
def digits():
    return load_image_dataset("digits")


@pytest.fixture(scope="module")
def run(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("moda")
    return modularize(digits, "simcnn", 0.0625, CFG, out, "digits"), out


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_activations_cover_every_relu_conv_and_hidden_fc_neuron(family: str) -> None:
    net = build_cnn(_arch(family)).eval()
    x = torch.rand(3, 1, 8, 8)
    logits, acts = net.forward_activations(x)
    lay = layout(_arch(family))
    assert logits.shape == (3, 10)
    assert tuple(acts) == unit_layers(lay)
    for name, a in acts.items():
        assert a.shape == (3, lay.full_width[name])
        assert (a >= 0).all()
    torch.testing.assert_close(logits, net(x))


def test_moda_losses_on_known_vectors() -> None:
    a = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    affinity, dispersion, compactness = moda_losses({"x": a}, torch.tensor([0, 0, 1, 1]))
    assert float(affinity) == 0.0 and float(dispersion) == 0.0
    assert abs(float(compactness) - 7.0 / 8) < 1e-6
    _, _, comp = moda_losses({"x": a, "y": torch.zeros(4, 3)}, torch.tensor([0, 0, 1, 1]))
    assert abs(float(comp) - 7.0 / 16) < 1e-6  # averaged over layers


def test_losses_fall(digits) -> None:
    result = train_modular(digits, "simcnn", 0.0625, CFG)
    assert not result.model.gated
    first, last = result.history[0], result.history[-1]
    assert last["loss"] < first["loss"]
    assert last["ce"] < first["ce"]
    assert last["cohesion"] < first["cohesion"]  # MODA's affinity
    assert last["coupling"] < first["coupling"]  # MODA's dispersion
    assert "krr" in last
    # compactness rises with the activations while CE trains; gamma holds it below a gamma = 0 run
    from dataclasses import replace

    free = train_modular(digits, "simcnn", 0.0625, replace(CFG, gamma=0.0))
    assert last["compactness"] < free.history[-1]["compactness"]


def _zeroed(family: str, kept: dict[str, tuple[int, ...]]):
    """A model whose units outside `kept` are zero on every input: their BN (or FC) weight 0 and bias -1."""
    torch.manual_seed(0)
    net = build_cnn(_arch(family))
    lay = layout(_arch(family))
    with torch.no_grad():
        for name in unit_layers(lay):
            drop = [k for k in range(lay.full_width[name]) if k not in kept[name]]
            if name.startswith("fc."):
                layer = net.fc[int(name.split(".")[1])]
                layer.weight[drop] = 0.0
                layer.bias[drop] = -1.0
            else:
                unit = net.convs[name]
                unit.bn.running_mean.uniform_(-0.5, 0.5)
                unit.bn.weight[drop] = 0.0
                unit.bn.bias[drop] = -1.0
    return net.eval()


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_pruned_module_equals_model_where_pruned_units_are_zero(family: str) -> None:
    arch = _arch(family)
    lay = layout(arch)
    gen = torch.Generator().manual_seed(1)
    kept = {}
    for name in unit_layers(lay):
        w = lay.full_width[name]
        n = int(torch.randint(1, w + 1, (1,), generator=gen))
        kept[name] = tuple(sorted(torch.randperm(w, generator=gen)[:n].tolist()))
    net = _zeroed(family, kept)
    marc = module_architecture(arch, kept, (3,), 1.0)
    state = prune_state(net.state_dict(), arch, marc)
    assert {k: tuple(v.shape) for k, v in state.items()} == cnn_shapes(marc)  # torch-free shapes follow
    module = build_cnn(marc)
    module.load_state_dict(state)
    module.eval()
    x = torch.rand(5, 1, 8, 8)
    _, acts = net.forward_activations(x)
    for name, k in kept.items():
        outside = [i for i in range(lay.full_width[name]) if i not in k]
        assert (acts[name][:, outside] == 0).all()
    full = net(x)
    torch.testing.assert_close(module.forward_gates(x)[0], full, atol=1e-5, rtol=1e-5)
    assert sum(module.state_dict()[k].numel() for k in state) < sum(
        v.numel() for v in net.state_dict().values()
    )


def test_fc_retention_is_checked_without_torch() -> None:
    from nnpm.errors import ArchitectureError

    arch = _arch("simcnn")
    width = layout(arch).full_width["fc.0"]
    with pytest.raises(ArchitectureError, match="fc.0"):
        layout(module_architecture(arch, {"fc.0": (width,)}, (0,), 1.0))
    with pytest.raises(ArchitectureError, match="unknown layers"):
        layout(module_architecture(arch, {"fc.9": (0,)}, (0,), 1.0))
    shapes = cnn_shapes(module_architecture(arch, {"fc.0": (0, 2), "fc.1": (1,)}, (0,), 1.0))
    assert shapes["fc.0.weight"][0] == 2 and shapes["fc.1.weight"] == (1, 2) and shapes["fc.2.weight"][1] == 1


def test_modules_keep_fewer_units_and_record_the_method(run, digits) -> None:
    report, out = run
    assert report.config["method"] == "moda"
    assert all(m.retained <= m.total for m in report.modules)
    assert sum(m.retained for m in report.modules) < sum(m.total for m in report.modules)
    assert report.mean_krr < 1.0
    assert any(k.startswith("fc.") for k in report.modules[0].retained_per_layer)
    model = check_package(out / "simcnn")
    assert model.architecture.params["gated"] is False
    assert model.source.method == "moda" and model.metrics.unit == "units"
    assert model.provenance["method"] == "moda" and model.provenance["gamma"] == 0.3
    module = check_package(out / "digit-3-module")
    assert module.source.method == "moda" and module.metrics.unit == "units"
    assert module.metrics.retained == sum(len(v) for v in module.architecture.retained.values())
    assert any(k.startswith("fc.") for k in module.architecture.retained)


def test_unknown_method_and_negative_gamma_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown method"):
        TrainConfig(method="nemo")
    with pytest.raises(InvalidInputError, match="gamma"):
        TrainConfig(method="moda", gamma=-1.0)


def _fails(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(["modularize", "cnn", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--method", "nemo"], "unknown method"),
        (["--method", "moda", "--gamma", "-0.5"], "gamma must be a finite number >= 0"),
        (["--method", "mwt", "--gamma", "0.3"], "--gamma applies to --method moda and mwt-repaired only"),
        (["--method", "moda", "--generator-lr-scale", "2"], "applies to the mwt methods only"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, needle, capsys, workdir) -> None:
    assert needle in _fails(args, capsys)


def test_cli_moda_run(capsys, workdir) -> None:
    main(["-q", "modularize", "cnn", "--method", "moda", "--width", "0.0625", "--epochs", "1",
          "--batch-size", "64", "--namespace", "t", "--out", "out", "--json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["config"]["method"] == "moda"
    assert (report["config"]["alpha"], report["config"]["beta"], report["config"]["gamma"]) == (1.0, 1.0, 0.3)
    assert len(report["modules"]) == 10


def test_packaged_module_scores_its_class_and_fuses(run, digits) -> None:
    from nnpm.nn.cnn.fuse import fuse, union_of_kernels
    from nnpm.science.cnn.packaging import load_package

    _, out = run
    manifest, module = load_package(out / "digit-3-module")
    x = digits.test.x[digits.test.y == 3]
    scores = module(x)
    assert scores.shape == (len(x), 1) and bool((scores <= 0).all())
    mods = [load_package(out / f"digit-{c}-module")[0] for c in (3, 5)]
    union = union_of_kernels([m.architecture for m in mods])
    assert "fc.0" in union and len(union["fc.0"]) >= len(manifest.architecture.retained["fc.0"])
    _, model = load_package(out / "simcnn")
    with torch.no_grad():
        fused = fuse(model, mods)(x)
    assert fused.shape == (len(x), 2) and bool((fused <= 0).all())
