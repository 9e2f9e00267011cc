"""What a decomposition chooses from the data: sequences counted per class, the cap chosen on validation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from nnpm.datasets import brown
from nnpm.datasets.text import TextData, TextSplit
from nnpm.errors import InvalidInputError
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import pipeline
from nnpm.science.rnn import select as sel
from nnpm.science.rnn.train import TrainConfig

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"
SMALL = dec.DecomposeConfig(positives=100, pool=300, refit_sequences=300)


def _split(counts: list[int]) -> TextSplit:
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    return TextSplit(torch.ones(len(y), 3, dtype=torch.long), y, y)


def _classify(counts: list[int]) -> TextData:
    split = _split(counts)
    return TextData("toy", "classify", tuple(f"c{i}" for i in range(len(counts))), None, split, _split(
        [max(1, n // 8) for n in counts]), split, 3, "toy")  # fmt: skip


def test_per_class_index_takes_up_to_k_of_every_class_seeded():
    split = _split([50, 7, 20])
    idx = sel.per_class_index(split, 10, seed=0)
    assert torch.bincount(split.group[idx]).tolist() == [10, 7, 10]
    assert torch.equal(idx, sel.per_class_index(split, 10, seed=0)) and torch.equal(idx, idx.sort().values)
    assert not torch.equal(idx, sel.per_class_index(split, 10, seed=1))


def test_classification_draws_per_class_and_explicit_totals_override():
    data = _classify([400, 30, 12])
    drawn = sel.draw(data, None, None, per_class=20, seed=0)
    assert torch.bincount(data.train.group[drawn.pool]).tolist() == [20, 20, 12]
    assert len(drawn.refit) == 52  # 20 + 20 + all 12
    assert torch.bincount(data.val.group[drawn.calibration])[0] > 40  # calibration keeps the true priors
    explicit = sel.draw(data, 100, 40, per_class=20, seed=0)
    assert len(explicit.pool) == 100 and len(explicit.refit) == 40 and len(explicit.calibration) == 40


def test_tagging_keeps_the_fixed_totals():
    data = brown.load(SLICE, max_len=20)
    drawn = sel.draw(data, None, None, per_class=5, seed=0)
    assert torch.equal(drawn.pool, sel.pool_index(data.train, sel.TAG_POOL, 0))
    assert torch.equal(drawn.refit, sel.pool_index(data.train, sel.TAG_REFIT, 11))


def test_choose_cap_takes_the_largest_within_tolerance_and_stops_there():
    built = []
    scores = {0.2: 0.80, 0.15: 0.893, 0.1: 0.899, 0.05: 0.90}

    def build(cap):
        built.append(cap)
        return [cap]

    cap, modules, record = sel.choose_cap(build, lambda m: scores[m[0]], 0.90, (0.1, 0.2, 0.05, 0.15), 0.5)
    assert cap == 0.1 and modules == [0.1] and built == [0.2, 0.15, 0.1] and record["met"]
    assert record["validation_composed"] == {"0.2": 0.8, "0.15": 0.893, "0.1": 0.899}
    cap, _, record = sel.choose_cap(build, lambda m: scores[m[0]] - 0.2, 0.90, (0.2, 0.1, 0.05), 0.5)
    assert cap == 0.05 and not record["met"]  # none within tolerance: the best one


@pytest.mark.parametrize(
    ("text", "value"), [("auto", None), (None, None), ("AUTO", None), ("0.15", 0.15), (0.0, 0.0)]
)
def test_parse_cap(text, value):
    assert sel.parse_cap(text) == value


@pytest.mark.parametrize(
    ("text", "match"), [("most", "neither a share nor 'auto'"), ("1.5", r"not a share in \[0, 1\)")]
)
def test_bad_caps_are_one_clear_line(text, match):
    with pytest.raises(InvalidInputError, match=match) as err:
        sel.parse_cap(text)
    assert err.value.where == "--cap" and "\n" not in str(err.value)


def test_bad_settings_are_refused_before_any_work():
    with pytest.raises(InvalidInputError, match="sequences per class"):
        dec.decompose(None, None, dec.DecomposeConfig(per_class=0))
    with pytest.raises(InvalidInputError, match="no cap to choose from"):
        dec.decompose(None, None, dec.DecomposeConfig(cap_grid=()))


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    data = brown.load(SLICE, max_len=20)
    config = TrainConfig(cell="gru", layers=2, hidden=16, embedding_dim=12, epochs=2, batch_size=32, lr=1e-2)
    out = tmp_path_factory.mktemp("select")
    return (
        data,
        out,
        pipeline.train_model(data, config, out, "brown", data_provenance={"data_dir": str(SLICE)}),
    )


def test_auto_cap_is_chosen_on_validation_and_recorded(tagger):
    data, out, built = tagger
    net = built["net"]
    lenient = dec.decompose(net, data, replace(SMALL, cap=None, tolerance=100.0))
    assert lenient.cap == 0.2 and list(lenient.choice["validation_composed"]) == ["0.2"]  # first passes
    strict = dec.decompose(net, data, replace(SMALL, cap=None, tolerance=0.0, cap_grid=(0.2, 0.05)))
    assert strict.cap in (0.2, 0.05) and set(strict.choice["validation_composed"]) <= {"0.2", "0.05"}
    for m in strict.modules:
        for kept, size in zip(m.keep, net.rnn.sizes, strict=True):
            assert size - len(kept) <= int(strict.cap * size + 1e-9)
    fixed = dec.decompose(net, data, replace(SMALL, cap=0.2))
    for a, b in zip(fixed.modules, lenient.modules, strict=True):  # the same modules as the given cap
        assert all(torch.equal(x, y) for x, y in zip(a.keep, b.keep, strict=True))


def test_module_manifests_record_the_chosen_cap(tagger):
    data, out, built = tagger
    done = pipeline.decompose_model(built["model"], built["net"], built["embedding"], data, out / "mods",
                                    replace(SMALL, cap=None, cap_grid=(0.2, 0.1)), classes=["NOUN"])  # fmt: skip
    prov = done["modules"][0].provenance["decompose"]
    assert prov["cap"] in (0.2, 0.1) and prov["cap_choice"]["cap"] == prov["cap"]
    assert "pool" in prov["cap_choice"]["sequences"] and "cap_grid" in prov
