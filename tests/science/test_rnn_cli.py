"""`nnpm train rnn` and `nnpm decompose` on the Brown slice and on chatterbot (tiny sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnpm.cli import cli

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"
TINY = ["--hidden", "12", "--embedding-dim", "8", "--epochs", "1"]


def _run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_train_then_decompose_then_train_on_the_same_embedding(tmp_path):
    out = tmp_path / "build"
    res = _run(["train", "rnn", "--cell", "gru", "--layers", "2", "--task", "tag", "--dataset", "brown",
                "--data-dir", str(SLICE), "--namespace", "brown", "--out", str(out), *TINY, "--json"])  # fmt: skip
    summary = json.loads(res.stdout)
    assert summary["model"] == "brown/gru-tagger==1.0.0" and (out / "embedding" / "vocab.json").is_file()
    res = _run(["decompose", str(out / "gru-tagger"), "--out", str(out), "--pool", "100", "--positives", "50",
                "--classes", "NOUN,VERB,.", "--json"])  # fmt: skip
    names = [m["name"] for m in json.loads(res.stdout)["modules"]]
    assert names == ["brown/noun-module==1.0.0", "brown/verb-module==1.0.0", "brown/punct-module==1.0.0"]
    res = _run(["train", "rnn", "--cell", "rnn", "--task", "tag", "--dataset", "brown", "--data-dir", str(SLICE),
                "--namespace", "brown2", "--out", str(tmp_path / "b2"), "--embedding", "brown/embedding==1.0.0",
                "--embedding-dir", str(out), *TINY, "--json"])  # fmt: skip
    assert json.loads(res.stdout)["embedding_sha256"] == summary["embedding_sha256"]


def test_unknown_embedding_and_wrong_task_are_one_line_errors(tmp_path):
    from nnpm.errors import DataError, InvalidInputError

    with pytest.raises(DataError, match="not found"):
        CliRunner().invoke(cli, ["train", "rnn", "--task", "tag", "--dataset", "brown", "--data-dir", str(SLICE),
                                 "--namespace", "x", "--out", str(tmp_path), "--embedding", "x/embedding==1.0.0"],
                           catch_exceptions=False)  # fmt: skip
    with pytest.raises(InvalidInputError, match="--task classify"):
        CliRunner().invoke(cli, ["train", "rnn", "--task", "tag", "--dataset", "chatterbot-lang", "--namespace", "x",
                                 "--out", str(tmp_path)], catch_exceptions=False)  # fmt: skip


def test_language_id_modules_from_chatterbot(tmp_path):
    pytest.importorskip("chatterbot_corpus")
    pytest.importorskip("yaml")
    out = tmp_path / "lang"
    _run(["train", "rnn", "--cell", "lstm", "--task", "classify", "--dataset", "chatterbot-lang", "--limit", "600",
          "--namespace", "langid", "--out", str(out), *TINY])  # fmt: skip
    res = _run(
        [
            "decompose",
            str(out / "lstm-classifier"),
            "--out",
            str(out),
            "--pool",
            "200",
            "--positives",
            "20",
            "--json",
        ]
    )
    summary = json.loads(res.stdout)
    assert len(summary["modules"]) >= 10 and "composed_accuracy" in summary
    assert any(m["name"] == "langid/english-module==1.0.0" for m in summary["modules"])


def test_an_embedding_dim_that_differs_from_the_given_embedding_is_refused(tmp_path):
    from nnpm.cli import main

    common = ["train", "rnn", "--cell", "rnn", "--task", "tag", "--dataset", "brown", "--data-dir",
              str(SLICE), "--hidden", "12", "--epochs", "1", "--limit", "200"]  # fmt: skip
    main([*common, "--embedding-dim", "8", "--namespace", "w", "--out", str(tmp_path / "a"), "-q"])
    with pytest.raises(SystemExit) as refused:
        main([*common, "--embedding-dim", "16", "--namespace", "w2", "--out", str(tmp_path / "b"),
              "--embedding", "w/embedding==1.0.0", "--embedding-dir", str(tmp_path / "a")])  # fmt: skip
    assert refused.value.code == 2 and not (tmp_path / "b").exists()


def test_cap_and_per_class_options(tmp_path):
    from nnpm.errors import InvalidInputError, UsageError

    out = tmp_path / "build"
    _run(["train", "rnn", "--cell", "rnn", "--task", "tag", "--dataset", "brown", "--data-dir", str(SLICE),
          "--namespace", "brown", "--out", str(out), *TINY])  # fmt: skip
    common = ["decompose", str(out / "rnn-tagger"), "--out", str(out), "--pool", "100", "--positives", "20"]
    res = _run([*common, "--classes", "NOUN", "--json"])  # --cap auto is the default
    summary = json.loads(res.stdout)
    assert summary["cap"] in (0.2, 0.15, 0.1, 0.05) and summary["cap_validation"]
    assert "cap" in _run([*common, "--classes", "NOUN", "--cap", "0.1"]).stdout
    with pytest.raises(InvalidInputError, match="neither a share nor 'auto'"):
        CliRunner().invoke(cli, [*common, "--cap", "half"], catch_exceptions=False)
    with pytest.raises(InvalidInputError, match="--per-class applies to classifiers"):
        CliRunner().invoke(cli, [*common, "--per-class", "50"], catch_exceptions=False)
    with pytest.raises(UsageError, match="--per-class has no effect") as refused:
        CliRunner().invoke(
            cli, [*common, "--refit-sequences", "50", "--per-class", "50"], catch_exceptions=False
        )
    assert refused.value.exit_code == 2


def test_language_id_sequences_are_counted_per_class(tmp_path):
    pytest.importorskip("chatterbot_corpus")
    pytest.importorskip("yaml")
    out = tmp_path / "lang"
    _run(["train", "rnn", "--cell", "gru", "--task", "classify", "--dataset", "chatterbot-lang", "--limit", "600",
          "--namespace", "langid", "--out", str(out), *TINY])  # fmt: skip
    res = _run(["decompose", str(out / "gru-classifier"), "--out", str(out), "--per-class", "3", "--cap", "0.2",
                "--positives", "3", "--json"])  # fmt: skip
    from nnpm.package.manifest import Manifest

    english = Manifest.read(out / "english-module" / "nnpm.toml").provenance["decompose"]
    from nnpm.datasets import chatterbot

    counts = chatterbot.load("lang", limit=600).train.group.bincount()
    assert len(json.loads(res.stdout)["modules"]) == len(counts)
    assert english["per_class"] == 3 and english["cap"] == 0.2
    assert english["cap_choice"]["sequences"]["pool"] == int(counts.clamp(max=3).sum())
