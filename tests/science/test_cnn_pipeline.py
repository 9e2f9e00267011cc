"""MwT end to end on digits with a tiny SimCNN: losses fall, modules are smaller, packages are complete
and rebuild from their manifests alone, and a resumed run equals an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnpm.datasets.images import load_image_dataset
from nnpm.nn.cnn.spec import layout
from nnpm.package.manifest import Manifest
from nnpm.package.pack import check_package
from nnpm.progress import Progress
from nnpm.science.cnn.extract import module_masks
from nnpm.science.cnn.mwt import modularize, train_modular
from nnpm.science.cnn.packaging import load_package
from nnpm.science.cnn.train import TrainConfig

# beta above the default so that a 3-epoch run already closes gates; tau = 1 keeps only always-open kernels.
CFG = TrainConfig(epochs=3, batch_size=32, beta=5.0, tau=1.0, seed=0)


@pytest.fixture(scope="module")
def digits():
    return load_image_dataset("digits")


@pytest.fixture(scope="module")
def run(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("mwt")
    return modularize(digits, "simcnn", 0.0625, CFG, out, "digits"), out


def test_losses_fall(digits) -> None:
    result = train_modular(digits, "simcnn", 0.0625, CFG)
    first, last = result.history[0], result.history[-1]
    assert last["ce"] < first["ce"]
    assert last["loss"] < first["loss"]
    assert last["coupling"] < first["coupling"]


class RecordingReporter(Progress):
    def __init__(self) -> None:
        self.steps: list[dict[str, float]] = []
        self.epochs: list[dict[str, float]] = []

    def start(self, total, desc, *, unit="step") -> None:
        self.expected, self.desc = total, desc

    def advance(self, n=1, **figures) -> None:
        self.steps.append(figures)

    def done(self, **figures) -> None:
        self.epochs.append(figures)


def test_progress_gets_every_step_and_ends_on_the_epoch_figures(digits) -> None:
    """Running sums are read back only now and then (a GPU sync), but the bar still moves each
    step and its last figures are the epoch's."""
    reporter = RecordingReporter()
    result = train_modular(
        digits, "simcnn", 0.0625, TrainConfig(epochs=1, batch_size=16, seed=0), reporter=reporter
    )
    assert len(reporter.steps) == reporter.expected > 25
    last, epoch = reporter.steps[-1], reporter.epochs[0]
    assert reporter.desc == "modular 1/1" and set(epoch) == {"loss", "acc", "val", "krr"}
    assert last["loss"] == pytest.approx(epoch["loss"]) and last["acc"] == pytest.approx(epoch["acc"])
    figures = result.history[0]
    assert epoch["loss"] == pytest.approx(
        figures["ce"] + 0.5 * figures["cohesion"] + 1.5 * figures["coupling"], rel=1e-5
    )


def test_modules_keep_fewer_kernels(run) -> None:
    report, _ = run
    assert all(m.retained <= m.total for m in report.modules)
    assert sum(m.retained for m in report.modules) < sum(m.total for m in report.modules)
    assert report.mean_krr < 1.0


def test_packages_are_complete_and_rebuild(run, digits) -> None:
    report, out = run
    model = check_package(out / "simcnn")
    assert model.kind == "model" and model.architecture.params["gated"] is True
    module_dir = out / "digit-3-module"
    manifest = check_package(module_dir)
    assert manifest.kind == "module"
    assert manifest.source.sha256 == model.digest()
    assert manifest.source.classes == ("3",)
    dep = manifest.dependencies[0]
    assert str(dep.name) == "digits/simcnn" and dep.sha256 == model.digest()
    assert manifest.metrics.retained == sum(len(v) for v in manifest.architecture.retained.values())
    assert 0 < manifest.metrics.retention_rate <= 1
    assert manifest.metrics.accuracy.split == "test" and manifest.metrics.source_accuracy is not None
    assert manifest.architecture.params["temperature"] > 0
    for key in ("seed", "epochs", "alpha", "beta", "tau", "training_seconds", "extraction_seconds", "split"):
        assert key in manifest.provenance
    _, full = load_package(out / "simcnn")
    _, module = load_package(module_dir)
    x = digits.test.x[digits.test.y == 3]
    scores = module(x)
    assert scores.shape == (len(x), 1) and bool((scores <= 0).all())
    row = next(m for m in report.modules if m.cls == 3)
    assert row.package == f"{manifest.name}==1.0.0"
    assert full(x).shape == (len(x), 10)
    assert Manifest.read(out / "digit-0-module" / "nnpm.toml").source.classes == ("0",)
    assert (out / "results.json").is_file()


def test_trained_module_equals_masked_model_on_its_class(run, digits) -> None:
    report, out = run
    _, full = load_package(out / "simcnn")
    module_manifest, module = load_package(out / "digit-5-module")
    kept = {k: tuple(v) for k, v in module_manifest.architecture.retained.items()}
    masks = module_masks(kept, layout(module_manifest.architecture).full_width)
    x = digits.test.x[digits.test.y == 5]
    with torch.no_grad():
        masked, _ = full.forward_gates(x, masks)
        pruned, _ = module.forward_gates(x)
    torch.testing.assert_close(pruned, masked, atol=1e-5, rtol=1e-5)
    assert all(0.0 <= m.fidelity <= 1.0 for m in report.modules)


def test_resume_equals_uninterrupted(digits, tmp_path: Path) -> None:
    cfg2 = TrainConfig(epochs=2, batch_size=64, seed=3)
    straight = train_modular(digits, "simcnn", 0.0625, cfg2, checkpoint_dir=tmp_path / "a")

    # Stop after one epoch by training a 2-epoch recipe with a reporter that interrupts.
    class Stop(Exception):
        pass

    class StopAfterFirst(Progress):
        def start(self, total, desc, *, unit="step"):
            if desc.endswith(" 2/2"):
                raise Stop

    with pytest.raises(Stop):
        train_modular(
            digits, "simcnn", 0.0625, cfg2, checkpoint_dir=tmp_path / "b", reporter=StopAfterFirst()
        )
    resumed = train_modular(digits, "simcnn", 0.0625, cfg2, checkpoint_dir=tmp_path / "b", resume=True)
    for (k, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=k)
    assert [h["epoch"] for h in resumed.history] == [1, 2]


def test_resume_accepts_a_new_tau_and_refuses_a_new_recipe(digits, tmp_path: Path) -> None:
    from dataclasses import replace

    from nnpm.errors import InvalidInputError

    cfg = TrainConfig(epochs=1, batch_size=64, seed=3)
    first = train_modular(digits, "simcnn", 0.0625, cfg, checkpoint_dir=tmp_path)
    again = train_modular(
        digits, "simcnn", 0.0625, replace(cfg, tau=0.5), checkpoint_dir=tmp_path, resume=True
    )
    assert again.history == first.history  # nothing retrained: tau only changes extraction
    with pytest.raises(InvalidInputError, match="different recipe"):
        train_modular(digits, "simcnn", 0.0625, replace(cfg, lr=0.01), checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(InvalidInputError, match="different recipe"):
        train_modular(digits, "simcnn", 0.0625, replace(cfg, beta=3.0), checkpoint_dir=tmp_path, resume=True)


def test_a_standard_checkpoint_serves_any_gate_settings(digits, tmp_path: Path) -> None:
    """alpha, beta and the generator rate do not touch the standard model: its run is reused."""
    from dataclasses import replace

    from nnpm.science.cnn.mwt import train_standard

    cfg = TrainConfig(epochs=1, batch_size=64, seed=3)
    first = train_standard(digits, "simcnn", 0.0625, cfg, checkpoint_dir=tmp_path)
    other = replace(cfg, alpha=0.1, beta=4.0, generator_lr_scale=10.0)
    again = train_standard(digits, "simcnn", 0.0625, other, checkpoint_dir=tmp_path, resume=True)
    assert again.history == first.history  # restored from the checkpoint, not retrained


def test_a_build_folder_with_checkpoints_is_not_restarted_without_resume(run, digits) -> None:
    from nnpm.errors import UsageError

    _, out = run
    before = {p.name: p.stat().st_mtime_ns for p in (out / ".checkpoints").iterdir()}
    with pytest.raises(UsageError, match="checkpoints of an earlier run") as refused:
        modularize(digits, "simcnn", 0.0625, CFG, out, "digits")
    assert refused.value.exit_code == 2 and "--resume" in refused.value.hint
    assert {p.name: p.stat().st_mtime_ns for p in (out / ".checkpoints").iterdir()} == before


def test_ctrl_c_during_training_says_how_to_resume_and_the_resume_continues(digits, tmp_path: Path) -> None:
    from nnpm.errors import RunInterrupted

    class CtrlCInSecondEpoch(Progress):
        def start(self, total, desc, *, unit="step"):
            if desc == "modular 2/2":
                raise KeyboardInterrupt

    cfg = TrainConfig(epochs=2, batch_size=64, seed=0)
    with pytest.raises(RunInterrupted) as stopped:
        modularize(digits, "simcnn", 0.0625, cfg, tmp_path, "digits", reporter=CtrlCInSecondEpoch())
    assert stopped.value.exit_code == 130 and "--resume" in stopped.value.hint
    assert not (tmp_path / "simcnn").exists()  # nothing half-written
    report = modularize(digits, "simcnn", 0.0625, cfg, tmp_path, "digits", resume=True)
    assert (tmp_path / "simcnn" / "nnpm.toml").is_file() and len(report.modules) == 10
