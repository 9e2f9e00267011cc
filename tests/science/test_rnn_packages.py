"""RNN packages through the package manager: publish, install (the embedding comes along), load, compose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from nnpm import api
from nnpm.cli import cli
from nnpm.compose.assemble import compose
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
          "--classes", "NOUN,VERB", "--json"])  # fmt: skip
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
