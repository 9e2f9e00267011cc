"""The local registry's SQLite search index (nnpm/registry/search_index.py): exactly the matcher of
nnpm/registry/search.py, built from index/, updated at publish, rebuilt whenever it is stale."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from packaging.version import Version

from nnpm.package.manifest import sha256_bytes
from nnpm.package.naming import PackageName
from nnpm.registry import search_index, sparse_index
from nnpm.registry.local import LocalRegistry
from nnpm.registry.search import select
from tests.factories import make_manifest, make_package

CORPUS = [
    ("fmnist/sneaker-module", ("Sneaker",), "class 'Sneaker' of fmnist/simcnn"),
    ("fmnist/ankle-boot-module", ("Ankle boot",), "footwear, for shoes"),
    ("fmnist/bag-module", ("Bag",), "bags and totes"),
    ("fmnist/t-shirt-module", ("T-shirt/top",), "boxes of categories"),
    ("text/straße-tagger".replace("ß", "ss"), ("Straße", "Café", "naïve"), "Größe 日本語 tagger"),
    ("text/bus-module", ("bus",), "class analysis"),
    ("digits/mlp", ("0", "1"), "digit_0 classifier, internet cabinet"),
]
QUERIES = [
    "", "shoe", "shoes", "Boot", "boots ankle", "sneak", "sneaker-mod", "eaker", "net", "internet",
    "fmnist module", "tote", "box", "boxes", "category", "categories", "t", "top shirt", "straße",
    "STRASSE", "stra", "café", "cafe", "naïve", "größe", "日本", "日本語", "bus", "bu", "analysis",
    "class", "digit", "0", "model", "zzz", "sneaker bag", "---", "module!",
]  # fmt: skip


def _fill(root, corpus=CORPUS):
    """Index-only packages, written with the registry's own index writer (no weights needed)."""
    for name, classes, description in corpus:
        manifest = make_manifest(name, "1.0.0", description=description)
        manifest = replace(manifest, source=replace(manifest.source, classes=classes, all_classes=classes))
        digest = sha256_bytes(name.encode())
        sparse_index.write_package(root, name, {"1.0.0": sparse_index.row_of(manifest, digest)})
        sparse_index.bump_generation(root)


@pytest.fixture
def filled(tmp_path):
    root = tmp_path / "registry"
    _fill(root)
    return LocalRegistry("local", str(root))


def _names(infos):
    return [str(i.name) for i in infos]


def _truth(reg, query):
    """The matcher of nnpm/registry/search.py over every package's newest version."""
    newest = [reg.versions(PackageName.parse(n))[-1] for n in reg.package_names()]
    return _names(select(query, newest))


@pytest.mark.parametrize("query", QUERIES)
def test_the_index_answers_exactly_as_the_matcher(filled, query):
    assert search_index.FTS5  # this Python's SQLite has FTS5; the fallback is tested below
    assert _names(filled.search(query)) == _truth(filled, query)


@pytest.mark.parametrize("query", QUERIES)
def test_without_fts5_the_same_answers(filled, monkeypatch, query):
    monkeypatch.setattr(search_index, "FTS5", False)
    (filled.root / search_index.DB_NAME).unlink(missing_ok=True)
    assert _names(filled.search(query)) == _truth(filled, query)
    with sqlite3.connect(filled.root / search_index.DB_NAME) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'fts5'").fetchone() == ("0",)


def test_a_current_index_answers_without_reading_any_package_file(filled, monkeypatch):
    filled.search("shoe")  # builds it

    def no_read(*args):
        raise AssertionError("a package file was read")

    monkeypatch.setattr(sparse_index, "read_package", no_read)
    assert _names(filled.search("shoe")) == ["fmnist/ankle-boot-module"]
    assert _names(filled.search("")) == sorted(n for n, _, _ in CORPUS)


def test_a_publish_updates_the_index_in_place(tmp_path):
    reg = LocalRegistry("local", str(tmp_path / "registry"))
    reg.publish(make_package(tmp_path, "team/first"))
    assert _names(reg.search("first")) == ["team/first"]  # built here
    reg.publish(make_package(tmp_path, "team/second", seed=1))
    db = search_index.open_current(reg.root / search_index.DB_NAME, reg._signature())
    assert db is not None  # the publish brought it up to date: no rebuild needed
    assert _names(search_index.query(db, "second")) == ["team/second"]
    db.close()


@pytest.mark.parametrize("how", ["generation", "file-written-behind-nnpm", "deleted", "garbage", "legacy"])
def test_a_stale_or_damaged_index_is_rebuilt_never_answered_from(filled, how):
    assert _names(filled.search("lion")) == []
    path = filled.root / search_index.DB_NAME
    lion = [("zoo/lion-module", ("Lion",), "a lion")]
    if how == "generation":
        _fill(filled.root, lion)
    elif how == "file-written-behind-nnpm":  # restored from a backup, say: no publish counted it
        manifest = make_manifest("zoo/lion-module", "1.0.0", description="a lion")
        sparse_index.write_package(
            filled.root, "zoo/lion-module", {"1.0.0": sparse_index.row_of(manifest, "c" * 64)}
        )
    elif how == "deleted":
        path.unlink()
        _fill(filled.root, lion)
    elif how == "garbage":
        _fill(filled.root, lion)
        path.write_bytes(b"not a database at all" * 100)
    else:  # an older nnpm wrote an index.json beside index/
        import json

        row = {"sha256": "d" * 64, "kind": "model", "description": "a lion"}
        (filled.root / "index.json").write_text(
            json.dumps({"index-version": 1, "packages": {"zoo/lion-module": {"1.0.0": row}}})
        )
    assert _names(filled.search("lion")) == ["zoo/lion-module"]
    assert _names(filled.search("")) == _truth(filled, "")


def test_a_search_that_cannot_take_the_lock_builds_the_index_in_memory(filled, monkeypatch):
    from filelock import Timeout

    filled.search("")
    _fill(filled.root, [("zoo/lion-module", ("Lion",), "a lion")])  # now stale
    path = filled.root / search_index.DB_NAME
    before = path.read_bytes()

    def locked(timeout=None):
        raise Timeout(str(filled.root / ".lock"))

    monkeypatch.setattr(filled, "_lock", locked)
    assert _names(filled.search("lion")) == ["zoo/lion-module"]
    assert path.read_bytes() == before  # left for a process that holds the lock


def test_a_malformed_package_file_fails_the_rebuild_naming_it(filled):
    sparse_index.package_path(filled.root, "digits/mlp").write_text("{")
    sparse_index.bump_generation(filled.root)
    with pytest.raises(Exception, match="mlp.json") as err:
        filled.search("digit")
    assert "hint:" in err.value.one_line()


def test_the_new_schema_is_a_valid_json_schema():
    import jsonschema

    from nnpm.package.schema import load_schema

    schema = load_schema(sparse_index.SCHEMA)
    jsonschema.validators.validator_for(schema).check_schema(schema)


# --- FTS5 alone agrees with the matcher, on hostile words too -------------------------------------

_ALPHABET = "abcsxyzeiouSSßÉéè_-/ 0123日本語İıﬁΣσς"


def _fts_hits(infos, query):
    """The names FTS5 alone returns (before search.matches checks the hits)."""
    db = search_index.rebuild(None, lambda: [(i, {}) for i in infos], "test")
    fts = search_index.fts_query(query)
    if fts is None:
        return sorted(str(i.name) for i in infos)
    return sorted(n for (n,) in db.execute("SELECT name FROM terms WHERE terms MATCH ?", (fts,)))


def test_fts5_alone_finds_exactly_what_the_matcher_finds():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from nnpm.registry.base import VersionInfo

    text = st.text(alphabet=_ALPHABET, max_size=24)

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(text, st.lists(text, max_size=3)), min_size=1, max_size=6), text)
    def check(packages, query):
        infos = [
            VersionInfo(
                PackageName.parse(f"ns/p{i}"),
                Version("1.0.0"),
                "0" * 64,
                "module",
                description=d,
                classes=tuple(c),
            )
            for i, (d, c) in enumerate(packages)
        ]
        assert _fts_hits(infos, query) == _names(select(query, infos))

    check()
