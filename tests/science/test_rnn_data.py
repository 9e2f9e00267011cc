"""Brown loader, universal tag mapping and vocabularies (on the Brown slice in tests/data)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnpm.datasets import brown
from nnpm.datasets.text import IGNORE
from nnpm.datasets.vocab import UNK_ID, Vocab
from nnpm.errors import DataError

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"


@pytest.mark.parametrize(
    ("raw", "tag"),
    [("at", "DET"), ("np-tl", "NOUN"), ("nn$", "NOUN"), ("ppss+md", "PRON"), ("bez*", "VERB"), ("*", "ADV"),
     ("fw-nn", "X"), ("---hl", "."), ("``", "."), ("to", "PRT"), ("cd", "NUM"), ("jjt", "ADJ"), ("cs", "CONJ"),
     ("in-tl", "ADP"), ("wrb+bez", "ADV"), ("uh", "X")],
)  # fmt: skip
def test_universal_tag(raw, tag):
    assert brown.universal_tag(raw) == tag


def test_a_tag_outside_browns_tagset_is_an_error_not_x():
    with pytest.raises(DataError, match="'qq' is not a Brown tag"):
        brown.universal_tag("qq")


def test_brown_slice_loads_stratified_with_train_only_vocabulary():
    data = brown.load(SLICE, max_len=12, seed=3)
    assert data.classes == brown.UNIVERSAL_TAGS and data.task == "tag"
    n = len(data.train) + len(data.val) + len(data.test)
    assert len(data.test) > 0.05 * n and len(data.val) > 0.05 * n
    # every genre is in every split
    for split in (data.train, data.val, data.test):
        assert set(split.group.tolist()) == set(range(len(data.groups)))
    # padding is IGNORE exactly where tokens are padding; chunks never exceed max_len
    assert torch.equal(data.test.x == 0, data.test.y == IGNORE)
    assert data.train.x.shape[1] == 12
    # the vocabulary never saw a token that occurs only in the test split
    raw, _ = brown.read_folder(SLICE)
    train_words = {data.vocab.tokens[i] for i in data.train.x.flatten().tolist()}
    assert train_words <= set(data.vocab.tokens)
    test_only = (data.test.x == UNK_ID).sum()
    assert test_only > 0


def test_same_seed_same_split_and_other_seed_differs():
    a, b, c = brown.load(SLICE, seed=1), brown.load(SLICE, seed=1), brown.load(SLICE, seed=2)
    assert torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.test.x[: len(c.test)], c.test.x[: len(a.test)])


def test_not_a_brown_folder(tmp_path):
    with pytest.raises(DataError, match="cats.txt"):
        brown.load(tmp_path)


def test_vocab_round_trip_is_json(tmp_path):
    vocab = Vocab.fit([["b", "a", "b"], ["c"]], min_count=1)
    assert vocab.tokens[2] == "b" and vocab.encode(["zzz"]) == [UNK_ID]
    vocab.save(tmp_path / "v.json")
    assert (tmp_path / "v.json").read_text().startswith("[")
    assert Vocab.load(tmp_path / "v.json") == vocab
