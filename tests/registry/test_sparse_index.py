"""The local registry's per-package index (nnpm/registry/sparse_index.py): one small file per package,
read only for the packages asked about, rewritten only by that package's publish; an old single
index.json is read too and split on the first publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from nnpm.errors import ImmutableVersionError, IntegrityError, ManifestError, RegistryError
from nnpm.package.naming import PackageName
from nnpm.registry import sparse_index
from nnpm.registry.local import LocalRegistry, blob_path
from tests.factories import make_package

A, B = PackageName.parse("team/a"), PackageName.parse("team/b")


@pytest.fixture
def reg(tmp_path):
    return LocalRegistry("team", str(tmp_path / "registry"))


def _index_files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "index").rglob("*.json"))}


def test_a_publish_writes_only_its_own_package_file_and_bumps_the_generation(tmp_path, reg):
    reg.publish(make_package(tmp_path, str(A)))
    reg.publish(make_package(tmp_path, str(B), seed=1))
    before = _index_files(reg.root)
    b_stat = os.stat(sparse_index.package_path(reg.root, B))
    assert sparse_index.read_generation(reg.root) == 2
    reg.publish(make_package(tmp_path, str(A), "1.1.0", seed=2))
    after = _index_files(reg.root)
    assert after["index/team/b.json"] == before["index/team/b.json"]
    assert os.stat(sparse_index.package_path(reg.root, B)).st_mtime_ns == b_stat.st_mtime_ns
    assert after["index/team/a.json"] != before["index/team/a.json"]
    assert [str(i.version) for i in reg.versions(A)] == ["1.0.0", "1.1.0"]
    assert sparse_index.read_generation(reg.root) == 3 and reg.package_names() == ["team/a", "team/b"]


def test_a_lookup_reads_only_the_package_it_asks_for(tmp_path, reg):
    reg.publish(make_package(tmp_path, str(A)))
    reg.publish(make_package(tmp_path, str(B), seed=1))
    sparse_index.package_path(reg.root, B).write_text("{ not json")  # b's file is broken...
    assert [str(i.version) for i in reg.versions(A)] == ["1.0.0"]  # ...and a lookup of a never reads it
    with pytest.raises(RegistryError) as err:
        reg.versions(B)
    assert (
        str(sparse_index.package_path(reg.root, B)) in err.value.one_line()
        and "hint:" in err.value.one_line()
    )


@pytest.mark.parametrize(
    ("content", "error", "fragment"),
    [
        (
            '{"index-version": 1, "name": "team/a", "versions": {"1.0.0": {"kind": "model"}}}',
            ManifestError,
            "sha256",
        ),
        ('{"index-version": 2, "name": "team/a", "versions": {}}', ManifestError, "index-version"),
        (
            '{"index-version": 1, "name": "team/b", "versions": {}}',
            RegistryError,
            "its path is that of team/a",
        ),
        ('{"index-version": 1, "name": "team/a", "versions": {"banana": {}}}', ManifestError, "PEP 440"),
        ("[" * 100_000, ManifestError, "nested more than 32 levels"),
    ],
)
def test_a_malformed_package_file_is_an_error_naming_it(reg, content, error, fragment):
    path = sparse_index.package_path(reg.root, A)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(error, match=fragment) as err:
        reg.versions(A)
    assert str(path) in err.value.one_line()


def test_a_fifo_as_a_package_file_is_refused_without_hanging(reg):
    path = sparse_index.package_path(reg.root, A)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    with pytest.raises(ManifestError, match="not a regular file"):
        reg.versions(A)


def test_a_stray_entry_under_index_is_an_error_not_a_package_skipped(tmp_path, reg):
    reg.publish(make_package(tmp_path, str(A)))
    (reg.root / "index" / "team" / "notes.txt").write_text("hello")
    with pytest.raises(RegistryError, match="not a package index file") as err:
        reg.package_names()
    assert "notes.txt" in err.value.one_line()


def test_the_same_content_again_is_a_no_op_and_other_content_is_refused(tmp_path, reg):
    first = reg.publish(make_package(tmp_path, str(A)))
    before = _index_files(reg.root)
    assert not reg.publish(make_package(tmp_path, str(A))).created
    with pytest.raises(ImmutableVersionError, match="already published with different content"):
        reg.publish(make_package(tmp_path / "other", str(A), seed=7))
    assert _index_files(reg.root) == before and reg.versions(A)[0].sha256 == first.sha256


# --- migration: read both, split on the first publish -------------------------------------------


def _make_legacy(reg):
    """Turn a registry into one as an older nnpm left it: a single index.json and no index/."""
    packages = {name: sparse_index.read_package(reg.root, name) for name in reg.package_names()}
    for path in (reg.root / "index").rglob("*.json"):
        path.unlink()
    (reg.root / "index" / "generation.txt").unlink()
    (reg.root / "index.json").write_text(json.dumps({"index-version": 1, "packages": packages}))


def test_an_old_index_json_is_read_and_split_by_the_first_publish(tmp_path, reg):
    reg.publish(make_package(tmp_path, str(A)))
    reg.publish(make_package(tmp_path, str(B), seed=1))
    _make_legacy(reg)
    fresh = LocalRegistry("team", str(reg.root))
    assert [str(i.version) for i in fresh.versions(A)] == ["1.0.0"]  # read through index.json
    assert [str(i.name) for i in fresh.search("team")] == ["team/a", "team/b"]
    assert fresh.package_names() == ["team/a", "team/b"]
    fresh.publish(make_package(tmp_path, str(A), "2.0.0", seed=2))
    assert not (reg.root / "index.json").exists() and (reg.root / "index.json.migrated").is_file()
    assert set(_index_files(reg.root)) == {"index/team/a.json", "index/team/b.json"}
    assert [str(i.version) for i in fresh.versions(A)] == ["1.0.0", "2.0.0"]
    assert [str(i.version) for i in fresh.search("team")] == ["2.0.0", "1.0.0"]
    whole = sparse_index.snapshot(reg.root)  # what index.json used to hold, for checks and tools
    assert {n: list(rows) for n, rows in whole.items()} == {"team/a": ["1.0.0", "2.0.0"], "team/b": ["1.0.0"]}


def test_a_version_with_two_digests_in_index_json_and_index_is_refused(tmp_path, reg):
    reg.publish(make_package(tmp_path, str(A)))
    rows = sparse_index.read_package(reg.root, A)
    legacy = {str(A): {"1.0.0": {**rows["1.0.0"], "sha256": "b" * 64}}}
    (reg.root / "index.json").write_text(json.dumps({"index-version": 1, "packages": legacy}))
    with pytest.raises(ImmutableVersionError, match="one digest"):
        reg.versions(A)
    with pytest.raises(ImmutableVersionError):
        reg.publish(make_package(tmp_path, str(B), seed=1))  # the split refuses it too
    assert (reg.root / "index.json").exists()  # and leaves the old index in place


# --- one hash per byte ------------------------------------------------------------------------------


def test_publish_hashes_each_file_once_while_copying_it(tmp_path, reg, monkeypatch):
    import nnpm.fsutil
    import nnpm.package.pack

    def no_hash(*args, **kwargs):
        raise AssertionError("hashed outside the copy into the blob store")

    monkeypatch.setattr(nnpm.package.pack, "verify_file", no_hash)
    monkeypatch.setattr(nnpm.fsutil, "hash_file", no_hash)
    monkeypatch.setattr(nnpm.fsutil, "hash_regular_file", no_hash)
    result = reg.publish(make_package(tmp_path, str(A)))
    for entry in result.manifest.files.values():
        blob = blob_path(reg.root, entry.sha256)
        assert blob.stat().st_size == entry.size


def test_a_file_changed_after_packing_is_the_same_integrity_error_and_leaves_nothing(tmp_path, reg):
    package = make_package(tmp_path, str(A))
    weights = package / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x7f")
    with pytest.raises(IntegrityError, match="sha256 mismatch: expected") as err:
        reg.publish(package)
    assert str(weights) in err.value.one_line()
    assert not [p for p in (reg.root / "blobs").rglob("*") if p.is_file()]  # not even the README's blob
    assert not list(reg.root.rglob("*.tmp")) and reg.versions(A) == []


def test_local_file_is_the_blob_when_it_is_a_regular_file(tmp_path, reg):
    result = reg.publish(make_package(tmp_path, str(A)))
    (info,) = reg.versions(A)
    rel, entry = next(iter(result.manifest.files.items()))
    blob = blob_path(reg.root, entry.sha256)
    assert reg.local_file(info, rel, entry) == blob
    blob.unlink()
    blob.symlink_to(tmp_path)
    assert reg.local_file(info, rel, entry) is None  # a link planted in its place is not offered
    blob.unlink()
    assert reg.local_file(info, rel, entry) is None


# --- concurrent publishers ---------------------------------------------------------------------------


def test_concurrent_publishers_of_different_packages_lose_nothing(tmp_path, reg):
    folders = [make_package(tmp_path, f"team/p{i}", seed=i) for i in range(4)]
    code = textwrap.dedent(
        """
        import sys
        from nnpm.registry.local import LocalRegistry
        LocalRegistry("team", sys.argv[1]).publish(sys.argv[2])
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(reg.root), str(f)]) for f in folders]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    assert reg.package_names() == [f"team/p{i}" for i in range(4)]
    assert sparse_index.read_generation(reg.root) == 4
    assert [str(i.name) for i in reg.search("team")] == reg.package_names()
