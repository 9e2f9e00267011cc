import pytest
import torch

from nnpm import api
from nnpm.api import compose, compose_package
from nnpm.composition.evaluate import composite_accuracy, evaluate
from nnpm.datasets import digits
from nnpm.errors import CompositionError
from nnpm.science.cnn.calibrate import calibrated_logprob


@pytest.fixture(scope="module")
def data():
    return digits.load()


def test_compose_returns_a_classifier_over_its_classes(digits_modules, data):
    net = compose("digits/digit-3-module", "digits/digit-8-module", project=False)
    assert net.classes == ("3", "8")
    scores = net(data.test.x[:5])
    assert scores.shape == (5, 2) and torch.all(scores <= 0)  # calibrated log-probabilities
    accuracy, samples, per_class = composite_accuracy(net, data.test, data)
    assert samples == int(((data.test.y == 3) | (data.test.y == 8)).sum())
    assert accuracy > 0.8 and set(per_class) == {"3", "8"}


def test_a_composite_package_depends_on_its_modules_and_loads_back(digits_modules, tmp_path, data):
    report = compose_package(
        ["digits/digit-3-module", "digits/digit-8-module"],
        name="mine/three-eight",
        out=tmp_path / "c",
        dataset="digits",
    )
    manifest = report.manifest
    assert manifest.kind == "composite" and set(manifest.files) == {"README.md"}  # it adds nothing
    assert {str(d.name): str(d.specifier) for d in manifest.dependencies} == {
        "digits/digit-3-module": "==1.0.0",
        "digits/digit-8-module": "==1.0.0",
    }
    assert all(d.sha256 for d in manifest.dependencies)
    api.publish(tmp_path / "c")
    api.install(["mine/three-eight"], project=False)
    loaded = api.load("mine/three-eight", project=False)
    direct = compose("digits/digit-3-module", "digits/digit-8-module", project=False)
    assert torch.allclose(loaded(data.test.x), direct(data.test.x))
    result = api.evaluate("mine/three-eight")
    assert result.value == pytest.approx(manifest.metrics.accuracy.value, abs=1e-6)


def test_two_modules_for_one_class_are_refused_without_replace(digits_modules):
    with pytest.raises(CompositionError, match="two modules serve class '3'.*--replace"):
        compose("digits/digit-3-module", "digits/digit-3-module", project=False)


def test_composing_a_model_is_refused(digits_modules):
    with pytest.raises(CompositionError, match="digits/simcnn is a model, not a module"):
        compose("digits/simcnn", "digits/digit-3-module", project=False)


def test_replace_patches_one_class_and_reports_per_class_precision_recall(digits_modules, tmp_path):
    report = compose_package(
        ["digits/digit-3-module", "digits/digit-8-module"],
        name="mine/patched",
        out=tmp_path / "p",
        replace={"8": "digits/digit-8-module==1.0.0"},
        dataset="digits",
    )
    assert report.before is not None and set(report.before.per_class) == {"3", "8"}
    with pytest.raises(CompositionError, match="does not serve class '8'"):
        compose(
            "digits/digit-3-module",
            "digits/digit-8-module",
            replace={"8": "digits/digit-5-module"},
            project=False,
        )


def test_finetune_trains_only_the_score_adjustment_selected_on_validation(digits_modules, tmp_path, data):
    report = compose_package(["digits/digit-3-module", "digits/digit-8-module"], name="mine/tuned", out=tmp_path / "t",
        dataset="digits", finetune=True, epochs=20,
    )  # fmt: skip
    assert set(report.manifest.files) == {"README.md", "weights.safetensors"}
    assert report.manifest.provenance["finetune_selected_epoch"] >= 0
    api.publish(tmp_path / "t")
    api.install(["mine/tuned"], project=False)
    loaded = api.load("mine/tuned", project=False)
    assert loaded.adjust is not None and evaluate(loaded, data).value > 0.8


def test_module_eval_recomputes_the_manifest_claim(digits_modules):
    result = api.evaluate("digits/digit-3-module")
    assert result.metric == "one-vs-rest balanced accuracy"
    assert result.value == pytest.approx(result.claimed, abs=1e-4)


def test_modules_of_one_installed_model_run_one_fused_forward_exact_to_the_model(digits_modules, data):
    from nnpm.nn.cnn.fuse import union_of_kernels
    from nnpm.nn.cnn.model import CNN

    fused = compose("digits/digit-3-module", "digits/digit-8-module", project=False)
    assert fused.mode == "fused"
    model: CNN = api.load("digits/simcnn", project=False)
    union = union_of_kernels([p.manifest.architecture for p in fused.parts_info])
    masks = {}
    for layer, kept in union.items():
        mask = torch.zeros(model.lay.full_width[layer])
        mask[list(kept)] = 1.0
        masks[layer] = mask
    with torch.no_grad():
        logits, _ = model.forward_gates(data.test.x, masks)
        expected = torch.cat(
            [
                calibrated_logprob(logits, [c], p.network.temperature, p.network.score_bias)
                for p, c in zip(fused.parts_info, (3, 8), strict=True)
            ],
            dim=1,
        )
        assert torch.allclose(fused(data.test.x), expected, atol=1e-5)
        batched = torch.cat([p.network(data.test.x) for p in fused.parts_info], dim=1)
    # both ways agree on the decision for nearly every sample of the two classes
    keep = (data.test.y == 3) | (data.test.y == 8)
    agree = (fused(data.test.x[keep]).argmax(1) == batched[keep].argmax(1)).float().mean()
    assert agree > 0.95


def test_without_the_source_model_installed_the_composite_runs_its_modules_batched(digits_modules):
    api.uninstall(["digits/simcnn"], project=False)
    assert compose("digits/digit-3-module", "digits/digit-8-module", project=False).mode == "batched"


def test_a_fresh_composite_directory_can_be_shown_composed_evaluated_and_used_as_a_replacement(
    digits_modules, workdir, capsys
):
    import json
    import shutil

    from tests.factories import run_cli

    def cli(*args: str) -> tuple[int, str, str]:
        return run_cli(capsys, *args)

    # --name is the package, --out the folder (default: ./<name's last part>)
    assert (
        cli("compose", "digits/digit-3-module", "digits/digit-8-module", "--name", "mine/three-eight", "-q")[
            0
        ]
        == 0
    )
    assert (workdir / "three-eight" / "nnpm.toml").is_file()
    code, out, _ = cli("show", "./three-eight", "--json")
    shown = json.loads(out)
    assert (
        code == 0 and shown["registry"] is None and shown["manifest"]["package"]["name"] == "mine/three-eight"
    )
    rule = api.load("digits/simcnn", project=False).manifest.metrics.extra["composition_rule"]
    assert shown["forward"] == {
        "mode": "fused",
        "modules": 2,
        "fused_source": "digits/simcnn==1.0.0",
        "rule": rule,
    }
    assert shown["manifest"]["architecture"]["params"]["rule"] == rule
    code, out, _ = cli("show", "./three-eight")
    assert "in directory three-eight" in out and "forward: one fused pass" in out and f"rule: {rule} (" in out
    # composed into another composite before it is published
    code, out, _ = cli("compose", "./three-eight", "digits/digit-5-module", "--name", "mine/three-five-eight",
                       "--out", "build/tfe", "--dataset", "digits", "--json")  # fmt: skip
    report = json.loads(out)
    assert code == 0 and report["classes"] == ["3", "8", "5"] and report["directory"] == "build/tfe"
    code, out, _ = cli("eval", "./build/tfe", "--json")
    measured = json.loads(out)
    assert (
        code == 0 and measured["passed"] is True and measured["value"] == pytest.approx(measured["claimed"])
    )
    # a fresh module directory serves a class through --replace
    shutil.copytree(digits_modules / "digit-8-module", workdir / "eight")
    code, _, err = cli("compose", "digits/digit-3-module", "digits/digit-8-module", "--name", "mine/patched",
                       "--replace", "8=./eight", "--dataset", "digits")  # fmt: skip
    assert code == 0, err
    # a non-empty --out that holds another package is refused before any work, with a hint
    code, _, err = cli("compose", "digits/digit-3-module", "digits/digit-5-module", "--name", "mine/other",
                       "--out", "three-eight")  # fmt: skip
    assert code == 2 and "not empty and does not hold package mine/other" in err and "hint:" in err
    # the same package may be written again over its earlier build
    assert (
        cli("compose", "digits/digit-3-module", "digits/digit-8-module", "--name", "mine/three-eight", "-q")[
            0
        ]
        == 0
    )
