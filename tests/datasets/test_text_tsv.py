"""TSV/CSV: sentence classification (`text, label`) and parallel corpora (`source, target, language`),
read back exactly as the native loaders give the same data, and every malformed file refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnpm.datasets import brown, tsv_data
from nnpm.datasets.text_export import write_table
from nnpm.errors import DataError

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"
CLASSIFY = ("text", "label")
TRANSLATE = ("source", "target", "language")


def _brown_genres(folder: Path, name: str = "genres.tsv") -> list[tuple[str, str]]:
    """The Brown slice's sentences labelled with their genre, one file."""
    raw, genres = brown.read_folder(SLICE)
    rows = [(" ".join(w for w, _ in s), g) for s, g in zip(raw, genres, strict=True)]
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder / name, CLASSIFY, rows)
    return rows


def test_one_file_is_split_stratified_by_label_and_tokenized(tmp_path):
    rows = _brown_genres(tmp_path / "g")
    data = tsv_data.load(tmp_path / "g", task="classify", tokens="whitespace", max_len=30)
    assert (
        data.task == "classify"
        and data.format == "tsv"
        and data.classes == tuple(sorted({g for _, g in rows}))
    )
    assert len(data.train) + len(data.val) + len(data.test) == len(rows)
    for split in (data.train, data.val, data.test):
        assert set(split.y.tolist()) == set(range(len(data.classes)))  # stratified: every genre everywhere
    assert "split 80/10/10 stratified by label, split seed 0" in data.split_note
    assert data.meta["tokenizer"]["case"] == "casefold"
    again = tsv_data.load(tmp_path / "g", task="classify", tokens="whitespace", max_len=30)
    assert torch.equal(again.test.x, data.test.x)


def test_given_split_files_are_kept_and_csv_quoting_is_read(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    train = [("a good day", "pos"), ("a bad day", "neg"), ("good, good", "pos"), ('he said "bad"', "neg")]
    write_table(folder / "train.csv", CLASSIFY, [*train, ("multi\nline good", "pos")])
    write_table(folder / "dev.csv", CLASSIFY, [("good", "pos")])
    write_table(folder / "test.csv", CLASSIFY, [("bad", "neg"), ("day", "pos")])
    data = tsv_data.load(folder, task="classify", min_count=1)
    assert (len(data.train), len(data.val), len(data.test)) == (5, 1, 2)
    assert data.classes == ("neg", "pos") and data.test.y.tolist() == [0, 1]
    assert data.vocab.id('"') > 1 and data.vocab.id("line") > 1


def test_chatterbot_topic_as_csv_reads_back_as_the_native_loader(tmp_path):
    pytest.importorskip("chatterbot_corpus")
    pytest.importorskip("yaml")
    from nnpm.datasets import chatterbot

    native = chatterbot.load("topic", limit=400)
    pairs = chatterbot.read_pairs("topic")
    kept = [(t, lab) for t, lab in pairs if lab in native.classes]
    (tmp_path / "c").mkdir()
    write_table(tmp_path / "c" / "topic.csv", CLASSIFY, kept)  # utterances hold newlines: CSV, not TSV
    data = tsv_data.load(tmp_path / "c", task="classify", case="lower", max_len=24, limit=400)
    assert data.classes == native.classes and data.vocab == native.vocab
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(data, split).x, getattr(native, split).x)
        assert torch.equal(getattr(data, split).y, getattr(native, split).y)


def _num2words_tsv(folder: Path, languages=("fr", "de"), numbers: int = 60):
    """num2words pairs in num2words' own split, as train/dev/test TSV files."""
    from nnpm.datasets import num2words_data

    native = num2words_data.load(languages=languages, max_number=numbers)
    order = torch.randperm(numbers, generator=torch.Generator().manual_seed(0))
    n = max(1, numbers // 10)
    folder.mkdir(parents=True, exist_ok=True)
    for split, nums in (("test", order[:n]), ("dev", order[n : 2 * n]), ("train", order[2 * n :])):
        rows = [(str(k), num2words_data.spell(k, lang), lang) for lang in languages for k in nums.tolist()]
        write_table(folder / f"numbers-{split}.tsv", TRANSLATE, rows)
    return native


def test_num2words_as_a_parallel_corpus_reads_back_as_the_native_loader(tmp_path):
    pytest.importorskip("num2words")
    native = _num2words_tsv(tmp_path / "p")
    data = tsv_data.load(tmp_path / "p", task="translate", vocab=native.vocab)
    assert data.classes == ("fr", "de") and data.meta["language_tokens"] == native.meta["language_tokens"]
    assert data.meta["eos_id"] == native.meta["eos_id"]
    for split in ("train", "val", "test"):
        a, b = getattr(data, split), getattr(native, split)
        assert torch.equal(a.y, b.y) and torch.equal(a.group, b.group)
        assert torch.equal(a.x[:, : b.x.shape[1]], b.x) and not a.x[:, b.x.shape[1] :].any()
    own = tsv_data.load(tmp_path / "p", task="translate", languages=["de"])
    assert own.classes == ("de",) and own.vocab.tokens[:4] == ("<pad>", "<unk>", "<eos>", "<2de>")
    with pytest.raises(DataError, match=r"no language token for \['<2fr>'\]"):
        tsv_data.load(tmp_path / "p", task="translate", vocab=own.vocab)
    with pytest.raises(DataError, match=r"no rows for languages \['it'\]"):
        tsv_data.load(tmp_path / "p", task="translate", languages=["it"])


def test_one_parallel_file_is_split_by_source(tmp_path):
    rows = [(f"{k}", f"w{k}", lang) for k in range(40) for lang in ("a", "b")]
    (tmp_path / "one").mkdir()
    write_table(tmp_path / "one" / "pairs.tsv", TRANSLATE, rows)
    data = tsv_data.load(tmp_path / "one", task="translate")
    sources = [
        {"".join(data.vocab.decode(r[r > 0].tolist())) for r in s.x}
        for s in (data.train, data.val, data.test)
    ]
    assert not (sources[0] & sources[2]) and not (sources[0] & sources[1]) and len(sources[2]) == 4
    assert "40 distinct sources split 80/10/10 by source (split seed 0)" in data.split_note


def _file(tmp_path, text: str | bytes, name: str = "data.tsv") -> Path:
    folder = tmp_path / "bad"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return folder


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "the file is empty"),
        ("text\tlabel\n", "a header and no rows"),
        ("sentence\tclass\nhi\tx\n", r"data.tsv:1: the header names columns \['sentence', 'class'\]; expected \['text', 'label'\]"),
        ("text\tlabel\nhi\tx\nho\tx\textra\n", r"data.tsv:3: 3 fields, the header has 2"),
        ("text\tlabel\nhi\tx\n\t y\n", r"data.tsv:3: empty text"),
        (b"text\tlabel\nhi\tx\ncaf\xe9\ty\n", r"data.tsv:3: not UTF-8: byte 0xe9"),
    ],
)  # fmt: skip
def test_malformed_files_are_one_line_errors(tmp_path, text, match):
    with pytest.raises(DataError, match=match) as err:
        tsv_data.load(_file(tmp_path, text), task="classify")
    assert "\n" not in str(err.value) and "hint:" in str(err.value)


def test_labels_outside_a_labels_file_and_unseen_test_labels_are_errors(tmp_path):
    rows = "text\tlabel\n" + "".join(f"s{k}\t{lab}\n" for k in range(12) for lab in ("pos", "neg", "meh"))
    folder = _file(tmp_path, rows)
    with pytest.raises(
        DataError, match=r"--labels: 1 label value\(s\) outside the labels file: 'meh' \(data.tsv:4\)"
    ):
        tsv_data.load(folder, task="classify", labels=[("pos", "pos"), ("neg", "neg")])
    mapped = tsv_data.load(folder, task="classify", labels=[("pos", "good"), ("neg", "bad"), ("meh", "bad")])
    assert mapped.classes == ("good", "bad")  # the labels file's order
    split = tmp_path / "split"
    split.mkdir()
    write_table(split / "train.tsv", CLASSIFY, [("a", "x"), ("b", "x")])
    write_table(split / "dev.tsv", CLASSIFY, [("a", "x")])
    write_table(split / "test.tsv", CLASSIFY, [("c", "y"), ("d", "z")])
    with pytest.raises(DataError, match=r"labels \['y', 'z'\] occur in the test split but never in training"):
        tsv_data.load(split, task="classify")
    with pytest.raises(
        DataError,
        match=r"header names columns \['text', 'label'\]; expected \['source', 'target', 'language'\]",
    ):
        tsv_data.load(split, task="translate")
    (split / "more.tsv").write_text("text\tlabel\nq\tx\n", encoding="utf-8")
    with pytest.raises(DataError, match="named for no split"):
        tsv_data.load(split, task="classify")
