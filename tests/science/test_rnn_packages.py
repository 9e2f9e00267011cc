"""RNN packages through the package manager: publish, install (the embedding comes along), load, compose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from nnpm import api
from nnpm.api import compose
from nnpm.cli import cli
from nnpm.errors import CompositionError

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"
TINY = ["--hidden", "12", "--embedding-dim", "8", "--epochs", "1"]


def _run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def brown_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("brown-build")
    _run(["train", "rnn", "--cell", "lstm", "--task", "tag", "--dataset", "brown", "--data-dir", str(SLICE),
          "--namespace", "brown", "--out", str(out), *TINY, "--json"])  # fmt: skip
    _run(["decompose", str(out / "lstm-tagger"), "--out", str(out), "--pool", "100", "--positives", "50",
          "--refit-sequences", "80", "--classes", "NOUN,VERB", "--json"])  # fmt: skip
    return out


def _publish_all(out: Path) -> None:
    for name in ("embedding", "lstm-tagger", "noun-module", "verb-module"):
        api.publish(out / name)


def test_installing_a_module_brings_its_model_and_embedding_and_loads_it(brown_build):
    from nnpm.science.rnn.packaging import load_directory

    _publish_all(brown_build)
    result = api.install(["brown/noun-module"], project=False)
    assert {str(p.name) for p in result.packages} == {
        "brown/noun-module",
        "brown/lstm-tagger",
        "brown/embedding",
    }
    net = api.load("brown/noun-module", project=False)
    _, reference, _ = load_directory(brown_build / "noun-module")
    tokens = torch.randint(2, 50, (4, 9))
    with torch.no_grad():
        assert torch.allclose(net(tokens), reference(tokens), atol=1e-6)
    assert net.manifest.architecture.vocabulary == "brown/embedding"
    assert net.manifest.provenance["decompose"]["refit_sequences"] == 80


def test_tagging_modules_compose_per_time_step(brown_build):
    _publish_all(brown_build)
    api.install(["brown/noun-module", "brown/verb-module"], project=False)
    tagger = compose("brown/noun-module", "brown/verb-module", project=False)
    assert tagger.classes == ("NOUN", "VERB") and tagger.mode == "batched"
    with torch.no_grad():
        assert tagger(torch.randint(2, 50, (3, 7))).shape == (3, 7, 2)


def test_modules_on_different_embeddings_are_refused_naming_both(brown_build, tmp_path):
    other = tmp_path / "other"
    _run(["train", "rnn", "--cell", "gru", "--task", "tag", "--dataset", "brown", "--data-dir", str(SLICE),
          "--namespace", "other", "--out", str(other), *TINY, "--seed", "1", "--json"])  # fmt: skip
    _run(["decompose", str(other / "gru-tagger"), "--out", str(other), "--pool", "100", "--positives", "50",
          "--classes", "ADJ", "--json"])  # fmt: skip
    _publish_all(brown_build)
    for name in ("embedding", "gru-tagger", "adj-module"):
        api.publish(other / name)
    api.install(["brown/noun-module", "other/adj-module"], project=False)
    with pytest.raises(CompositionError, match="embeddings clash.*brown/embedding.*other/embedding"):
        compose("brown/noun-module", "other/adj-module", project=False)


def test_eval_reproduces_the_claims_of_a_tagger_and_its_modules(brown_build):

    _publish_all(brown_build)
    api.install(["brown/noun-module"], project=False)
    model = api.evaluate("brown/lstm-tagger")
    assert model.metric == "token-accuracy (non-padding)" and model.dataset == "brown"
    assert model.value == pytest.approx(model.claimed, abs=1e-6) and set(model.per_class) >= {"NOUN", "VERB"}
    noun = api.evaluate("brown/noun-module")
    assert noun.metric == "one-vs-rest balanced accuracy"
    assert noun.value == pytest.approx(noun.claimed, abs=1e-6)


def test_a_tagging_composite_is_measured_on_the_positions_of_its_tags(brown_build, tmp_path):
    from nnpm.api import compose_package

    _publish_all(brown_build)
    api.install(["brown/noun-module", "brown/verb-module"], project=False)
    report = compose_package(["brown/noun-module", "brown/verb-module"], name="brown/noun-verb", out=tmp_path / "nv",
                             dataset="brown")  # fmt: skip
    after = report.after
    assert after.metric == "accuracy" and set(after.per_class) == {"NOUN", "VERB"}
    assert after.samples == sum(s.support for s in after.per_class.values())
    assert 0.5 < after.value <= 1.0  # two tags: a useful composite beats chance
    api.publish(tmp_path / "nv")
    api.install(["brown/noun-verb"], project=False)
    again = api.evaluate("brown/noun-verb")
    assert again.value == pytest.approx(after.value) and again.claimed == pytest.approx(after.value, abs=1e-6)


def test_eval_refuses_another_dataset_and_embedding_packages(brown_build, capsys):
    from nnpm.api import compose_package
    from nnpm.cli import main
    from nnpm.errors import DataError

    _publish_all(brown_build)
    api.install(["brown/noun-module"], project=False)
    with pytest.raises(DataError, match="made on brown, not mnist"):
        api.evaluate("brown/noun-module", dataset="mnist")
    with pytest.raises(DataError, match="embedding package"):
        api.evaluate(brown_build / "embedding")
    import dataclasses
    from types import SimpleNamespace

    from nnpm.composition.evaluate_text import load_text_for

    noun = api.load("brown/noun-module", project=False)
    bare = SimpleNamespace(
        manifest=dataclasses.replace(noun.manifest, provenance={}), embedding=noun.embedding
    )
    with pytest.raises(DataError, match="records no dataset in its provenance"):
        load_text_for(bare)
    with pytest.raises(DataError, match="--finetune works on image composites only"):
        compose_package(
            ["brown/noun-module"], name="brown/n", out=brown_build / "n", dataset="brown", finetune=True
        )
    assert not (brown_build / "n").exists()
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "brown/embedding"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "embedding package" in err[0] and "hint:" in err[0]
