"""Issue 12 on the bundled digits, in seconds: the repaired MwT, composition by the union of units,
the rule chosen on validation, module size as a share of parameters with its chart, and starting
from trained weights (`--from`), with one clear line for every bad argument."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file

from nnpm.cli import main
from nnpm.datasets.images import load_image_dataset
from nnpm.errors import ArchitectureError, InvalidInputError
from nnpm.nn.cnn.fuse import CALIBRATED, UNION, fuse_architectures
from nnpm.nn.cnn.model import build_cnn
from nnpm.nn.cnn.prune import module_architecture
from nnpm.nn.cnn.spec import layout
from nnpm.package.pack import check_package
from nnpm.science.cnn.mwt import modular_architecture, modularize, train_modular
from nnpm.science.cnn.packaging import architecture
from nnpm.science.cnn.start import load_start
from nnpm.science.cnn.train import TrainConfig

WIDTH = 0.0625


@pytest.fixture(scope="module")
def digits():
    return load_image_dataset("digits")


@pytest.fixture(scope="module")
def repaired(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("repaired")
    cfg = TrainConfig(epochs=2, batch_size=32, method="mwt-repaired", gamma=0.3, seed=0)
    return modularize(digits, "simcnn", WIDTH, cfg, out, "digits"), out


def test_show_prints_a_modules_size(repaired, capsys) -> None:
    _, out = repaired
    main(["show", str(out / "digit-3-module")])
    shown = capsys.readouterr().out
    assert "size: " in shown and "% of the source model's" in shown


def test_repaired_mwt_has_leaky_generators_and_records_its_rule_and_sizes(repaired) -> None:
    report, out = repaired
    model = check_package(out / "simcnn")
    assert model.architecture.params["generator"] == "leaky" and model.source.method == "mwt-repaired"
    assert model.provenance["gamma"] == 0.3
    assert model.metrics.extra["composition_rule"] in (UNION, CALIBRATED)
    chosen = model.metrics.extra["composition_validation"]
    assert chosen["pairs"] == 45 and chosen["rule"] == model.metrics.extra["composition_rule"]
    best = UNION if chosen["union_mean"] >= chosen["calibrated_mean"] else CALIBRATED
    assert chosen["rule"] == best
    # Two epochs leave most repaired gates open, and which modules already shed units depends on the
    # CPU's float kernels and thread count (one thread on an AVX-512 EPYC: only digits 0, 2 and 9 did);
    # every share is in (0, 1], and the smallest module is smaller than the model.
    shares = {m.package: m.parameter_share for m in report.modules}
    assert all(0 < v <= 1 for v in shares.values()) and min(shares.values()) < 1
    smallest = min(shares, key=shares.get).split("/")[1].split("==")[0]
    module = check_package(out / smallest)
    extra = module.metrics.extra
    assert 0 < extra["parameter_share"] < 1 and extra["parameters"] < model.metrics.extra["model_parameters"]
    assert extra["retention_chart"] == "retention.png" and "retention.png" in module.files
    card = (out / smallest / "README.md").read_text()
    assert "![Units kept per layer](retention.png)" in card and "of the source model's" in card
    assert report.to_dict()["mean_parameter_share"] == pytest.approx(
        sum(m.parameter_share for m in report.modules) / len(report.modules)
    )


def test_leaky_generators_differ_from_mwts_and_bad_kinds_are_refused(digits) -> None:
    relu = architecture("simcnn", digits, WIDTH, gated=True)
    leaky = architecture("simcnn", digits, WIDTH, gated=True, generator="leaky")
    torch.manual_seed(0)
    a = build_cnn(relu)
    b = build_cnn(leaky)
    b.load_state_dict(a.state_dict())
    x = digits.test.x[:64]
    with torch.no_grad():
        assert not torch.equal(a.forward_gates(x)[1]["conv2"], b.forward_gates(x)[1]["conv2"])
    with pytest.raises(ArchitectureError, match="params.generator"):
        layout(replace(leaky, params={**leaky.params, "generator": "tanh"}))


def test_union_of_all_units_equals_the_model_restricted_to_the_classes(digits) -> None:
    torch.manual_seed(0)
    arch = architecture("simcnn", digits, WIDTH, gated=False)
    model = build_cnn(arch).eval()
    full = {name: tuple(range(w)) for name, w in layout(arch).full_width.items()}
    classes = (2, 7)
    archs = [module_architecture(arch, full, (c,), 1.0) for c in classes]
    x = digits.test.x[:100]
    with torch.no_grad():
        union = fuse_architectures(model, arch, archs, UNION)(x)
        expected = torch.log_softmax(model(x)[:, list(classes)], dim=1)
        calibrated = fuse_architectures(model, arch, archs, CALIBRATED)(x)
    torch.testing.assert_close(union, expected)
    assert not torch.allclose(union, calibrated)


@pytest.fixture(scope="module")
def standard(digits, tmp_path_factory):
    """A trained standard model package (a MODA run's baseline) and its state dict as a file."""
    out = tmp_path_factory.mktemp("standard")
    cfg = TrainConfig(epochs=2, batch_size=32, method="moda", alpha=1.0, beta=1.0, gamma=0.3, seed=0)
    modularize(digits, "simcnn", WIDTH, cfg, out, "digits")
    from nnpm.science.cnn.packaging import load_package

    _, net = load_package(out / "simcnn-standard")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / "state.safetensors"))
    return out


def test_from_starts_the_modular_model_at_the_given_weights(digits, standard) -> None:
    std_arch = architecture("simcnn", digits, WIDTH, gated=False)
    for source in (standard / "simcnn-standard", standard / "state.safetensors"):
        begin = load_start(source, std_arch)
        cfg = TrainConfig(epochs=1, batch_size=32, lr=0.0, weight_decay=0.0, method="mwt", seed=3)
        result = train_modular(digits, "simcnn", WIDTH, cfg, start=begin)
        state = result.model.state_dict()
        for key, value in begin.state.items():
            if "running" not in key and "num_batches" not in key:  # BN statistics move in train mode
                assert torch.equal(state[key], value), key
        assert any(".gen." in k for k in state)


def test_cli_from_a_package_skips_the_standard_run_and_records_it(digits, standard, capsys, workdir) -> None:
    code = main(["-q", "modularize", "cnn", "--method", "moda", "--width", str(WIDTH), "--epochs", "1",
                 "--batch-size", "64", "--from", str(standard / "simcnn-standard"), "--namespace", "t",
                 "--out", "out", "--json"])  # fmt: skip
    assert code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report["start"] == "package digits/simcnn-standard==1.0.0" and report["time_ratio"] is None
    model = check_package(workdir / "out" / "simcnn")
    assert model.provenance["from"] == report["start"] and len(model.provenance["from_sha256"]) == 64
    assert not (workdir / "out" / "simcnn-standard").exists()


def _fails(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(["modularize", "cnn", "--width", str(WIDTH), "--epochs", "1", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_from_arguments_give_one_line(standard, capsys, workdir, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "neither an nnpm model package folder nor a .safetensors file" in _fails(
        ["--from", str(empty)], capsys
    )
    assert "already modular" in _fails(["--from", str(standard / "simcnn")], capsys)
    assert "has width 0.0625, this run 0.125" in _fails(
        ["--from", str(standard / "simcnn-standard"), "--width", "0.125"], capsys
    )
    bad = tmp_path / "bad.safetensors"
    save_file({"features.0.weight": torch.zeros(2, 1, 3, 3)}, str(bad))
    assert "unexpected key 'features.0.weight'" in _fails(["--from", str(bad)], capsys)
    assert "does not exist" in _fails(["--from", str(tmp_path / "missing")], capsys)


def test_gamma_is_the_repaired_mwts_and_modas_only(capsys, workdir) -> None:
    assert "--gamma applies to --method moda and mwt-repaired only" in _fails(["--gamma", "0.1"], capsys)
    with pytest.raises(InvalidInputError, match="unknown method"):
        TrainConfig(method="mwt-fixed")
    cfg = TrainConfig(method="mwt-repaired")
    assert (
        modular_architecture("simcnn", load_image_dataset("digits"), WIDTH, cfg).params["generator"]
        == "leaky"
    )
