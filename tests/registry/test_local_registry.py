import json

import pytest

from nnpm import api
from nnpm.errors import ConfigError, ImmutableVersionError
from nnpm.registry import config as registry_config
from tests.factories import make_package, publish


def test_publish_then_search_show_and_versions(tmp_path, nnpm_home):
    publish(tmp_path, "digits/mlp", "1.0.0", description="small digit classifier")
    publish(tmp_path, "digits/mlp", "1.1.0", description="small digit classifier")
    publish(tmp_path, "fmnist/bag-module", "1.0.0", description="bag")
    assert [str(i.name) for i in api.search("digit")] == ["digits/mlp"]
    assert str(api.search("digit")[0].version) == "1.1.0"
    details = api.show("digits/mlp==1.0.0")
    assert [str(v.version) for v in details.versions] == ["1.0.0", "1.1.0"]
    assert str(details.manifest.version) == "1.0.0"
    index = nnpm_home / "registry" / "index"
    files = sorted(str(p.relative_to(index)) for p in index.glob("*/*.json"))
    assert files == ["digits/mlp.json", "fmnist/bag-module.json"]  # one file per package
    assert not (nnpm_home / "registry" / "index.json").exists()  # no single index is written
    doc = json.loads((index / "digits" / "mlp.json").read_text())
    assert doc["name"] == "digits/mlp" and list(doc["versions"]) == ["1.0.0", "1.1.0"]


def test_identical_content_again_is_a_no_op(tmp_path):
    first = publish(tmp_path, "digits/mlp", "1.0.0")
    again = api.publish(make_package(tmp_path, "digits/mlp", "1.0.0"))
    assert first.created and not again.created and first.sha256 == again.sha256


def test_different_content_under_a_published_version_is_refused_and_nothing_changes(tmp_path, nnpm_home):
    publish(tmp_path, "digits/mlp", "1.0.0", seed=0)
    index_file = nnpm_home / "registry" / "index" / "digits" / "mlp.json"
    index_before = index_file.read_bytes()
    with pytest.raises(ImmutableVersionError) as err:
        api.publish(make_package(tmp_path / "other", "digits/mlp", "1.0.0", seed=1))
    assert "digits/mlp==1.0.0" in err.value.one_line() and "bump the version" in err.value.one_line()
    assert index_file.read_bytes() == index_before


def test_blobs_are_stored_once_however_many_packages_hold_them(tmp_path, nnpm_home):
    publish(tmp_path, "digits/a", "1.0.0", seed=0)
    publish(tmp_path, "digits/b", "1.0.0", seed=0)  # same weights, different manifest
    blobs = list((nnpm_home / "registry" / "blobs").rglob("*"))
    weights = [b for b in blobs if b.is_file() and b.stat().st_size > 1000]
    assert len(weights) == 1


def test_unknown_registry_is_one_clear_error():
    with pytest.raises(ConfigError) as err:
        api.search("x", registry="nowhere")
    assert (
        "unknown registry 'nowhere'" in err.value.one_line() and "nnpm registry add" in err.value.one_line()
    )


def test_registries_are_configured_by_name(tmp_path):
    registry_config.add_registry("team", str(tmp_path / "team-registry"))
    make = make_package(tmp_path, "team/mlp", "1.0.0")
    api.publish(make, registry="team")
    assert [str(i.name) for i in api.search("", registry="team")] == ["team/mlp"]
    assert api.search("") == []  # the default registry is untouched
    with pytest.raises(ConfigError):
        registry_config.add_registry("bad", "ftp://example.org")
    with pytest.raises(Exception, match="invalid registry name"):
        registry_config.add_registry("Bad Name", str(tmp_path))


def test_a_new_version_sharing_a_file_leaves_its_blob_unwritten(tmp_path, nnpm_home):
    first = publish(tmp_path, "test/mlp", "1.0.0", seed=0)
    weights = first.manifest.files["weights.safetensors"]
    blob = nnpm_home / "registry" / "blobs" / "sha256" / weights.sha256[:2] / weights.sha256
    before = blob.stat()
    second = publish(tmp_path, "test/mlp", "1.1.0", seed=0)  # the same weights, a new manifest and card
    assert second.manifest.files["weights.safetensors"] == weights
    after = blob.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not copied over
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")  # corrupted: a third version rewrites it
    publish(tmp_path, "test/mlp", "1.2.0", seed=0)
    assert blob.stat().st_ino != before.st_ino and api.install(["test/mlp==1.2.0"], project=False).packages
