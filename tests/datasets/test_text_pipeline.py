"""The new text formats end to end through the CLI: train -> decompose -> publish, install, compose, eval;
the same figure as the native loader on the same data; decompose refuses a class with no example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from nnpm import api
from nnpm.cli import cli
from nnpm.datasets import brown
from nnpm.datasets.text import three_way_split
from nnpm.datasets.text_export import write_conllu, write_table
from nnpm.errors import DataError, InvalidInputError

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"
TINY = ["--hidden", "12", "--embedding-dim", "8", "--epochs", "1"]


def _run(args) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _write_brown(folder: Path) -> Path:
    """The Brown slice in the native loader's split as UD-named CoNLL-U files, and a labels file
    declaring Brown's 12 universal tags in the native loader's order."""
    raw, genres = brown.read_folder(SLICE)
    names = sorted(set(genres))
    folder.mkdir(parents=True)
    for split, idx in zip(("train", "dev", "test"), three_way_split(torch.tensor([names.index(g) for g in genres]), 0),
                          strict=True):  # fmt: skip
        write_conllu(
            folder / f"brown-ud-{split}.conllu",
            [[(w, brown.universal_tag(t)) for w, t in raw[i]] for i in idx],
        )
    labels = folder.parent / "universal.tags"
    labels.write_text("\n".join(brown.UNIVERSAL_TAGS) + "\n", encoding="utf-8")
    return labels


@pytest.mark.slow
def test_lstm_tagger_from_conllu_equals_native_brown_and_packages_work(tmp_path):
    pytest.importorskip("conllu")
    labels = _write_brown(tmp_path / "ud")
    common = ["train", "rnn", "--cell", "lstm", "--task", "tag", *TINY]
    native = _run([*common, "--dataset", "brown", "--data-dir", str(SLICE), "--namespace", "nat", "--out", str(tmp_path / "nat")])  # fmt: skip
    out = tmp_path / "ud-build"
    got = _run([*common, "--dataset", "conllu", "--data-dir", str(tmp_path / "ud"), "--labels", str(labels),
                "--case", "lower", "--namespace", "ud", "--out", str(out)])  # fmt: skip
    assert got["accuracy"] == native["accuracy"]  # same tokens, tags and split: the same figure
    from nnpm.package.manifest import MANIFEST_NAME, Manifest

    params = Manifest.read(out / "embedding" / MANIFEST_NAME).architecture.params
    assert (params["case"], params["tokens"], params["normalization"]) == ("lower", "given", "NFC")
    done = _run(["decompose", str(out / "lstm-tagger"), "--out", str(out), "--cap", "0.2", "--pool", "200",
                 "--positives", "50", "--refit-sequences", "100"])  # fmt: skip
    assert len(done["modules"]) == 12 and 0 < done["composed_accuracy"] <= 1
    for name in ("embedding", "lstm-tagger", "noun-module", "verb-module"):
        api.publish(out / name)
    api.install(["ud/noun-module", "ud/verb-module"], project=False)
    assert api.evaluate("ud/lstm-tagger").value == pytest.approx(got["accuracy"], abs=1e-6)
    from nnpm.api import compose_package

    report = compose_package(["ud/noun-module", "ud/verb-module"], name="ud/noun-verb", out=tmp_path / "nv",
                             dataset="conllu")  # fmt: skip
    assert set(report.after.per_class) == {"NOUN", "VERB"} and 0.5 < report.after.value <= 1


@pytest.mark.slow
def test_tsv_classify_and_translate_train_and_decompose(tmp_path):
    pytest.importorskip("num2words")
    from nnpm.datasets import num2words_data

    raw, genres = brown.read_folder(SLICE)
    (tmp_path / "g").mkdir()
    write_table(tmp_path / "g" / "genres.tsv", ("text", "label"), [(" ".join(w for w, _ in s), g) for s, g in zip(raw, genres, strict=True)])  # fmt: skip
    got = _run(["train", "rnn", "--cell", "gru", "--task", "classify", "--dataset", "tsv", "--data-dir", str(tmp_path / "g"),
                "--tokens", "whitespace", "--max-len", "20", "--namespace", "genre", "--out", str(tmp_path / "gb"), *TINY])  # fmt: skip
    assert got["model"] == "genre/gru-classifier==1.0.0"
    done = _run(["decompose", str(tmp_path / "gb" / "gru-classifier"), "--out", str(tmp_path / "gb"), "--cap", "0.2",
                 "--per-class", "40"])  # fmt: skip
    assert {m["name"] for m in done["modules"]} == {f"genre/{g}-module==1.0.0" for g in set(genres)}
    assert api.evaluate(tmp_path / "gb" / "gru-classifier").value == pytest.approx(got["accuracy"], abs=1e-6)
    (tmp_path / "p").mkdir()
    write_table(tmp_path / "p" / "pairs.tsv", ("source", "target", "language"),
                [(str(n), num2words_data.spell(n, lang), lang) for n in range(120) for lang in ("fr", "de")])  # fmt: skip
    mt = _run(["train", "rnn", "--cell", "gru", "--task", "translate", "--dataset", "tsv", "--data-dir", str(tmp_path / "p"),
               "--namespace", "mt", "--out", str(tmp_path / "mt"), *TINY])  # fmt: skip
    assert mt["metric"].startswith("corpus BLEU")
    done = _run(["decompose", str(tmp_path / "mt" / "gru-translator"), "--out", str(tmp_path / "mt")])
    assert [m["name"] for m in done["modules"]] == ["mt/fr-module==1.0.0", "mt/de-module==1.0.0"]
    fr = api.evaluate(
        tmp_path / "mt" / "fr-module"
    )  # re-read from the recorded TSV folder, re-tokenized alike
    assert fr.value == pytest.approx(fr.claimed, abs=1e-6)


def test_decompose_refuses_a_class_without_a_training_example(tmp_path):
    """A Brown folder whose sentences have no X, NUM, ...: the 12-tag tagger has classes never seen."""
    folder = tmp_path / "mini"
    folder.mkdir()
    lines = ["The/at dog/nn ran/vbd ./.", "A/at cat/nn sat/vbd ./.", "He/pps saw/vbd the/at dog/nn ./."] * 12
    (folder / "ca01").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    (folder / "cats.txt").write_text("ca01 news\n", encoding="utf-8")
    out = tmp_path / "b"
    _run(["train", "rnn", "--cell", "rnn", "--task", "tag", "--dataset", "brown", "--data-dir", str(folder),
          "--namespace", "mini", "--out", str(out), "--hidden", "4", "--embedding-dim", "4", "--epochs", "1"])  # fmt: skip
    with pytest.raises(
        DataError, match=r"no training example of 7 class\(es\): ADJ, ADP, ADV, CONJ, NUM, PRT, X"
    ) as err:
        CliRunner().invoke(
            cli, ["decompose", str(out / "rnn-tagger"), "--out", str(out)], catch_exceptions=False
        )
    assert "\n" not in str(err.value)
    # the classes that were seen can still be cut out, at a given cap
    done = _run(
        ["decompose", str(out / "rnn-tagger"), "--out", str(out), "--cap", "0.2", "--classes", "DET,NOUN"]
    )
    assert len(done["modules"]) == 2


def test_cli_checks_dataset_task_and_options(tmp_path):
    def refused(args, match, kind=InvalidInputError):
        with pytest.raises(kind, match=match):
            CliRunner().invoke(cli, ["train", "rnn", *args, "--namespace", "x", "--out", str(tmp_path / "o")],
                               catch_exceptions=False)  # fmt: skip

    refused(
        ["--task", "tag", "--dataset", "tsv", "--data-dir", str(tmp_path)],
        r"'tsv' is for --task classify or translate",
    )
    refused(["--task", "tag", "--dataset", "conllu"], "conllu needs --data-dir")
    refused(
        ["--task", "tag", "--dataset", "brown", "--data-dir", str(SLICE), "--tokens", "words"],
        "--tokens does not apply to brown",
    )
    refused(
        ["--task", "translate", "--dataset", "num2words", "--case", "keep"],
        "--case does not apply to num2words",
    )
    refused(
        ["--task", "tag", "--dataset", "conllu", "--data-dir", str(tmp_path)],
        r"no \*.conllu file in the folder",
        DataError,
    )
