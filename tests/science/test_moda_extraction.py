"""MODA's extraction options. Negative evidence (`--confusers N`): a module may also keep the units
of look-alike classes, only where that raises its one-vs-rest AUC on validation, and says which it
kept. Activation mass (`--mass M`): a module keeps, of the conv channels its class fires, only the
heaviest that carry M of their mean activation, and says so."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
import torch

from nnpm.cli import main
from nnpm.datasets.images import load_image_dataset
from nnpm.errors import InvalidInputError
from nnpm.package.pack import check_package
from nnpm.science.cnn.extract import CONFUSER_GAIN, extract_modules, heaviest_units, separation
from nnpm.science.cnn.mwt import modularize
from nnpm.science.cnn.train import TrainConfig, predict_logits

CFG = TrainConfig(epochs=4, batch_size=32, method="moda", alpha=1.0, beta=1.0, gamma=0.3, seed=0, confusers=2)


def test_separation_is_the_auc_of_the_modules_log_odds() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    ranked = torch.tensor([[3.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0]])  # class 0's log-odds
    assert separation(ranked, labels, 0) == 1.0
    assert separation(ranked, labels, 1) == 1.0
    assert separation(ranked.flip(0), labels, 0) == 0.0
    assert separation(torch.zeros(4, 2), labels, 0) == 0.5  # ties count half


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    data = load_image_dataset("digits")
    out = tmp_path_factory.mktemp("confusers")
    modularize(data, "simcnn", 0.0625, CFG, out, "digits")
    return data, out


def test_a_confuser_is_kept_only_where_it_raises_the_validation_auc(built) -> None:
    data, out = built
    plain = {m.cls: m for m in extract_modules(out / "simcnn", data, 0.9)}
    wider = extract_modules(out / "simcnn", data, 0.9, max_confusers=2)
    assert any(m.confusers for m in wider), "no module took negative evidence"
    for m in wider:
        base = plain[m.cls]
        assert len(m.confusers) <= 2 and m.class_name not in m.confusers
        for layer, units in base.kept.items():
            assert set(units) <= set(m.kept[layer])  # its own units stay
        if m.confusers:
            assert m.parameters > base.parameters
            assert _auc(m, data) >= _auc(base, data) + CONFUSER_GAIN - 1e-9
        else:
            assert m.kept == base.kept


def _auc(module, data) -> float:
    return separation(predict_logits(module.network, data.val.x, 512), data.val.y, module.cls)


def test_packages_say_which_confusers_they_keep(built, capsys) -> None:
    data, out = built
    taken = [m for m in extract_modules(out / "simcnn", data, 0.9, max_confusers=2) if m.confusers]
    module = check_package(out / f"digit-{taken[0].class_name}-module")
    assert module.metrics.extra["confusers"] == list(taken[0].confusers)
    assert module.provenance["max_confusers"] == 2
    main(["show", str(out / f"digit-{taken[0].class_name}-module")])
    assert (
        f"negative evidence: also keeps the units of {', '.join(taken[0].confusers)}"
        in capsys.readouterr().out
    )


def test_negative_confusers_are_refused(capsys, workdir) -> None:
    with pytest.raises(InvalidInputError, match="confusers must be at least 0"):
        TrainConfig(confusers=-1)
    with pytest.raises(SystemExit) as exc:
        main(["modularize", "cnn", "--confusers", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--confusers" in err, err


def test_heaviest_units_keep_the_fewest_channels_carrying_the_mass() -> None:
    kept = {"conv0": (0, 1, 2, 3), "conv1": (1,), "fc.0": (0, 2)}
    means = {"conv0": torch.tensor([[0.1, 5.0, 3.0, 2.0]]), "conv1": torch.tensor([[0.0, 1.0]])}
    assert heaviest_units(kept, means, 0, 1.0) == kept
    trimmed = heaviest_units(kept, means, 0, 0.75)  # 5 + 3 = 8 of 10.1 carry 79%
    assert trimmed == {"conv0": (1, 2), "conv1": (1,), "fc.0": (0, 2)}  # FC neurons, lone channels stay
    assert heaviest_units(kept, means, 0, 0.4)["conv0"] == (1,)


def test_mass_trims_conv_channels_only_and_is_recorded(built, workdir) -> None:
    data, out = built
    plain = {m.cls: m for m in extract_modules(out / "simcnn", data, 0.9)}
    trimmed = extract_modules(out / "simcnn", data, 0.9, mass=0.9)
    assert sum(m.parameters for m in trimmed) < sum(m.parameters for m in plain.values())
    for m in trimmed:
        for layer, units in m.kept.items():
            assert set(units) <= set(plain[m.cls].kept[layer]) and units
            if layer.startswith("fc."):
                assert units == plain[m.cls].kept[layer]
    assert extract_modules(out / "simcnn", data, 0.9, mass=1.0)[0].kept == plain[0].kept
    with pytest.raises(InvalidInputError, match="mass must be a share in"):
        extract_modules(out / "simcnn", data, 0.9, mass=1.5)


def test_mass_is_refused_outside_moda_and_outside_0_to_1(capsys, workdir) -> None:
    with pytest.raises(InvalidInputError, match="mass must be a share in"):
        TrainConfig(method="moda", mass=0.0)
    with pytest.raises(InvalidInputError, match="--mass trims the channels MODA"):
        TrainConfig(method="mwt", mass=0.9)
    for args in (["--method", "mwt", "--mass", "0.9"], ["--method", "moda", "--mass", "1.5"]):
        with pytest.raises(SystemExit) as exc:
            main(["modularize", "cnn", *args])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--mass" in err, err


def test_a_trimmed_package_records_its_mass_and_show_says_so(built, tmp_path, capsys) -> None:
    data, out = built
    again = tmp_path / "again"
    shutil.copytree(out / ".checkpoints", again / ".checkpoints")
    modularize(data, "simcnn", 0.0625, replace(CFG, mass=0.9), again, "digits", resume=True)
    module = check_package(again / "digit-0-module")
    assert module.provenance["activation_mass"] == 0.9
    assert "activation_mass" not in check_package(out / "digit-0-module").provenance
    main(["show", str(again / "digit-0-module")])
    assert "carrying 90% of its class's activation (--mass 0.9)" in capsys.readouterr().out
