"""Which data a figure was measured on: digests in manifests, and `nnpm eval` saying whether it
measured the claim's own examples, or refusing data the package cannot read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from nnpm import api
from nnpm.composition.evaluate import evaluate
from nnpm.datasets import digits
from nnpm.datasets.identity import identify, split_sha256
from nnpm.datasets.splits import LabelledData, Split
from nnpm.errors import DataError, ManifestError
from nnpm.package.manifest import Manifest

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"


@pytest.fixture(scope="module")
def data() -> LabelledData:
    return digits.load()


def test_a_digest_changes_with_one_pixel_and_with_the_class_names(data):
    base = identify(data)
    assert {k: s.count for k, s in base.splits.items()} == {"train": len(data.train), "val": len(data.val),
                                                             "test": len(data.test)}  # fmt: skip
    assert identify(digits.load()) == base  # deterministic
    x = data.test.x.clone()
    x[0, 0, 0, 0] += 1 / 16
    nudged = identify(replace(data, test=Split(x, data.test.y)))
    assert nudged.splits["test"].sha256 != base.splits["test"].sha256
    assert nudged.splits["train"] == base.splits["train"] and nudged.sha256 != base.sha256
    renamed = identify(replace(data, classes=tuple(reversed(data.classes))))
    assert renamed.splits["train"].sha256 != base.splits["train"].sha256
    assert split_sha256(data, "val") == base.splits["val"].sha256


def test_the_digest_is_of_the_data_as_read_not_of_its_storage(data):
    as_uint8 = Split((data.train.x * 16).round().to(torch.uint8).float() / 16, data.train.y.int())
    assert identify(replace(data, train=as_uint8)).splits["train"] == identify(data).splits["train"]


def test_packages_record_their_data_and_eval_says_it_measured_the_same(digits_modules, data):
    model = Manifest.read(digits_modules / "simcnn" / "nnpm.toml")
    module = Manifest.read(digits_modules / "digit-3-module" / "nnpm.toml")
    assert model.source.data == identify(data) and model.source.data.format == "bundled"
    assert module.source.data == model.source.data
    text = model.to_toml()
    assert "[source.data]" in text and "/tmp" not in text.split("[source.data]")[1].split("[")[0]
    result = api.evaluate("digits/digit-3-module")
    assert result.same_data is True and result.data_sha256 == model.source.data.splits["test"].sha256


def test_eval_on_other_examples_says_they_are_not_the_claims(digits_modules):
    net = api.load("digits/digit-3-module", project=False)
    other_split = digits.load(seed=1)  # the same images, another test split
    result = evaluate(net, other_split)
    assert result.same_data is False and result.claimed is not None


def test_eval_refuses_inputs_of_another_shape_in_one_line(digits_modules, data):
    net = api.load("digits/simcnn", project=False)
    big = Split(torch.zeros(4, 1, 28, 28), torch.arange(4))
    wrong = replace(data, name="fashion-mnist", train=big, val=big, test=big)
    with pytest.raises(
        DataError, match=r"reads 1-channel 8x8 inputs but fashion-mnist holds 1-channel 28x28"
    ) as e:
        evaluate(net, wrong)
    assert "\n" not in str(e.value) and e.value.hint


def test_eval_refuses_a_model_on_data_with_other_classes(digits_modules, data):
    net = api.load("digits/simcnn", project=False)
    other = replace(data, name="letters", classes=tuple("abcdefghij"))
    with pytest.raises(DataError, match="classifies 0, 1, .* but letters has classes a, b"):
        evaluate(net, other)


def test_a_malformed_data_table_is_one_manifest_error(digits_modules):
    text = (digits_modules / "simcnn" / "nnpm.toml").read_text()
    broken = text.replace("[source.data]", "[source.data]\nextra = 1", 1)
    with pytest.raises(ManifestError, match="source.data"):
        Manifest.from_toml(broken)


def test_eval_reloads_the_splits_a_package_was_made_with(digits_modules):
    from nnpm.composition.workflow import data_for, recorded_options

    net = api.load("digits/simcnn", project=False)
    assert net.manifest.provenance["data"] == {"dataset": "digits", "seed": 0}
    net.manifest = replace(
        net.manifest, provenance={**net.manifest.provenance, "data": {"dataset": "digits", "seed": 1}}
    )
    assert "split seed 1" in data_for(net, None).split_note  # not the default seed 0
    composite = api.compose("digits/digit-3-module", "digits/digit-8-module", project=False)
    assert recorded_options(composite, "digits") == {"seed": 0}  # its modules' record
    assert recorded_options(composite, "fashion-mnist") == {}


def test_sequence_packages_record_their_data_and_eval_compares_it(tmp_path):
    from nnpm.science.rnn.cli_support import train_command

    common = dict(cell="gru", layers=1, hidden=16, embedding_dim=16, languages=None, embedding_spec=None,
                  embedding_dir=None, epochs=1, batch_size=32, lr=0.01, seed=0, max_len=None, version="1.0.0")  # fmt: skip
    summary = train_command(task="tag", dataset="brown", data_dir=SLICE, namespace="b", out=tmp_path, limit=400,
                            **common)  # fmt: skip
    model = Manifest.read(Path(summary["model_dir"]) / "nnpm.toml")
    assert model.source.data.format == "nltk-brown" and model.source.data.splits["test"].count > 0
    result = api.evaluate(Path(summary["model_dir"]))
    assert result.same_data is True
