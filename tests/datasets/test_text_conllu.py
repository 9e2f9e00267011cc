"""CoNLL-U treebanks through the conllu package: UD's multiword tokens and empty nodes, UPOS/XPOS kept
as they are, given and carved splits, the Brown slice read back exactly as the native loader reads it,
and every refusal as one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnpm.datasets import brown, conllu_data
from nnpm.datasets.text import three_way_split
from nnpm.datasets.text_export import write_conllu
from nnpm.errors import DataError

pytest.importorskip("conllu")

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"
UNIVERSAL = [(t, t) for t in brown.UNIVERSAL_TAGS]  # a labels file declaring Brown's 12 universal tags

UD = """# sent_id = es-1
# text = Vámonos al mar.
1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_
1\tVamos\tir\tVERB\tV\t_\t0\troot\t_\t_
2\tnos\tnosotros\tPRON\tP\t_\t1\tobj\t_\t_
3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_
3\ta\ta\tADP\tS\t_\t5\tcase\t_\t_
4\tel\tel\tDET\tD\t_\t5\tdet\t_\t_
5\tmar\tmar\tNOUN\tN\t_\t1\tobl\t_\tSpaceAfter=No
6\t.\t.\tPUNCT\tF\t_\t1\tpunct\t_\t_

# sent_id = en-2
1\tSue\tSue\tPROPN\tNNP\t_\t2\tnsubj\t_\t_
2\tlikes\tlike\tVERB\tVBZ\t_\t0\troot\t_\t_
3\tcoffee\tcoffee\tNOUN\tNN\t_\t2\tobj\t_\t_
3.1\tlikes\tlike\tVERB\tVBZ\t_\t_\t_\t2:conj\t_
4\tand\tand\tCCONJ\tCC\t_\t5\tcc\t_\t_
5\tBill\tBill\tPROPN\tNNP\t_\t2\tconj\t_\t_
6\ttea\ttea\tNOUN\tNN\t_\t5\tobj\t_\t_

"""


def _brown_as_conllu(folder: Path, root: Path = SLICE, seed: int = 0) -> brown.TextData:
    """The Brown slice in its native split, written as UD-named CoNLL-U files with universal tags."""
    raw, genres = brown.read_folder(root)
    names = sorted(set(genres))
    parts = three_way_split(torch.tensor([names.index(g) for g in genres]), seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, idx in zip(("train", "dev", "test"), parts, strict=True):
        sentences = [[(w, brown.universal_tag(t)) for w, t in raw[i]] for i in idx.tolist()]
        write_conllu(folder / f"brown-ud-{split}.conllu", sentences)
    return brown.load(root, seed=seed)


def test_brown_slice_as_conllu_reads_back_as_the_native_loader(tmp_path):
    native = _brown_as_conllu(tmp_path / "ud")
    data = conllu_data.load(tmp_path / "ud", labels=UNIVERSAL, case="lower")
    assert data.classes == native.classes and data.vocab == native.vocab and data.format == "conllu"
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(data, split).x, getattr(native, split).x)
        assert torch.equal(getattr(data, split).y, getattr(native, split).y)
    assert "given files brown-ud-train.conllu" in data.split_note


def test_multiword_tokens_and_empty_nodes_are_skipped_and_tags_kept(tmp_path):
    (tmp_path / "ud").mkdir()
    (tmp_path / "ud" / "tiny.conllu").write_text(UD * 3, encoding="utf-8")
    sentences = conllu_data.read_file(
        tmp_path / "ud" / "tiny.conllu", "upos", conllu_data.tf.Labels(None, conllu_data.UPOS)
    )
    assert sentences[0] == (
        ["Vamos", "nos", "a", "el", "mar", "."],
        ["VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT"],
    )
    assert sentences[1][0] == ["Sue", "likes", "coffee", "and", "Bill", "tea"]  # 3.1 is not a word
    xpos = conllu_data.read_file(tmp_path / "ud" / "tiny.conllu", "xpos", conllu_data.tf.Labels())
    assert xpos[1][1] == ["NNP", "VBZ", "NN", "CC", "NNP", "NN"]


def test_one_file_is_carved_seeded_and_recorded(tmp_path):
    raw, _ = brown.read_folder(SLICE)
    (tmp_path / "one").mkdir()
    write_conllu(
        tmp_path / "one" / "brown.conllu", [[(w, brown.universal_tag(t)) for w, t in s] for s in raw]
    )
    a = conllu_data.load(tmp_path / "one", labels=UNIVERSAL, seed=1)
    b = conllu_data.load(tmp_path / "one", labels=UNIVERSAL, seed=1)
    c = conllu_data.load(tmp_path / "one", labels=UNIVERSAL, seed=2)
    assert torch.equal(a.test.x, b.test.x) and not torch.equal(a.test.x[:20], c.test.x[:20])
    assert "split 80/10/10, stratified by each sentence's rarest tag, split seed 1" in a.split_note
    n = len(raw)
    assert 0.07 * n < len(a.test) < 0.2 * n  # chunks of long sentences count too
    # every tag the model is scored on was seen in training
    assert set(a.test.y[a.test.y >= 0].tolist()) <= set(a.train.y[a.train.y >= 0].tolist())


def test_a_missing_dev_file_is_carved_from_train_and_the_test_file_kept(tmp_path):
    _brown_as_conllu(tmp_path / "ud")
    (tmp_path / "ud" / "brown-ud-dev.conllu").unlink()
    full = conllu_data.load(tmp_path / "ud", labels=UNIVERSAL)
    assert "dev carved from train" in full.split_note
    test_file = conllu_data.read_file(
        tmp_path / "ud" / "brown-ud-test.conllu", "upos", conllu_data.tf.Labels(UNIVERSAL)
    )
    assert len(full.test) >= len(test_file) and len(full.val) > 0


def test_xpos_column_and_limit(tmp_path):
    (tmp_path / "ud").mkdir()
    (tmp_path / "ud" / "tiny.conllu").write_text(UD * 6, encoding="utf-8")
    data = conllu_data.load(tmp_path / "ud", tag_column="xpos", min_count=1)
    assert set(data.classes) <= {"V", "P", "S", "D", "N", "F", "NNP", "VBZ", "NN", "CC"}
    assert data.meta["tokenizer"] == {"case": "casefold", "tokens": "given", "normalization": "NFC"}


def _one(tmp_path, text: str, name: str = "x.conllu", raw: bytes | None = None) -> Path:
    folder = tmp_path / "d"
    folder.mkdir(exist_ok=True)
    if raw is not None:
        (folder / name).write_bytes(raw)
    else:
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (UD.replace("\tNOUN\tN\t", "\tNOM\tN\t"), r"UPOS value\(s\) outside the 17 declared values: 'NOM' \(x.conllu:9\)"),
        (UD.replace("3\tcoffee\tcoffee\tNOUN\tNN", "3\tcoffee coffee\tNOUN\tNN"), r"x.conllu:15: .*10 tab-separated fields, this one 9"),
        ("   \n\n", "the file is empty"),
        ("# only a comment\n\n", "no sentence with words"),
        (UD.replace("1\tVamos\tir\tVERB\t", "x\tVamos\tir\tVERB\t"), "not CoNLL-U"),
    ],
)  # fmt: skip
def test_malformed_files_are_one_line_errors(tmp_path, text, match):
    with pytest.raises(DataError, match=match) as err:
        conllu_data.load(_one(tmp_path, text), min_count=1)
    assert "\n" not in str(err.value) and "hint:" in str(err.value)


def test_non_utf8_empty_xpos_and_a_labels_file_are_refused_with_where(tmp_path):
    with pytest.raises(DataError, match=r"x.conllu:2: not UTF-8"):
        conllu_data.load(_one(tmp_path, "", raw=b"# a\n1\tcaf\xe9\t_\tNOUN\t_\t_\t_\t_\t_\t_\n\n"))
    folder = tmp_path / "xp"
    folder.mkdir()
    (folder / "x.conllu").write_text(UD.replace("\tNOUN\tN\t", "\tNOUN\t_\t"), encoding="utf-8")
    with pytest.raises(DataError, match=r"x.conllu:9: word 5 has no XPOS"):
        conllu_data.load(folder, tag_column="xpos")
    with pytest.raises(DataError, match=r"2 UPOS value\(s\) outside the labels file: 'PROPN' .*'CCONJ'"):
        conllu_data.load(
            _one(tmp_path, UD * 4), labels=[(t, t) for t in ("VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT")]
        )


def test_a_tag_of_the_test_file_unseen_in_training_is_an_error(tmp_path):
    folder = tmp_path / "ud"
    folder.mkdir()
    (folder / "t-ud-train.conllu").write_text(UD.split("\n\n")[0] + "\n\n", encoding="utf-8")
    (folder / "t-ud-dev.conllu").write_text(UD.split("\n\n")[0] + "\n\n", encoding="utf-8")
    (folder / "t-ud-test.conllu").write_text(UD, encoding="utf-8")
    with pytest.raises(
        DataError, match=r"UPOS tags \['CCONJ', 'PROPN'\] occur in the test split but never in training"
    ):
        conllu_data.load(folder)
    (folder / "t-ud-train.conllu").unlink()
    with pytest.raises(DataError, match="no training file"):
        conllu_data.load(folder)
    (folder / "other.conllu").write_text(UD, encoding="utf-8")
    with pytest.raises(DataError, match="files named for no split beside the split files: other.conllu"):
        conllu_data.load(folder)
