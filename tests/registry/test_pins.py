"""A dependency pinned by sha256 travels in the VersionInfo every registry returns (VersionInfo.pins)."""

from __future__ import annotations

import pytest

from nnpm.package.naming import PackageName
from nnpm.registry.local import LocalRegistry
from nnpm.registry.sparse_index import snapshot
from tests.factories import make_package
from tests.registry import hub_fixtures

hub_env, hub, registry = hub_fixtures.hub_env, hub_fixtures.hub, hub_fixtures.registry

EMBEDDING, TAGGER = PackageName.parse("text/embedding"), PackageName.parse("text/tagger")


@pytest.fixture(params=["local", "hub"])
def target(request, tmp_path):
    if request.param == "local":
        return LocalRegistry("local", str(tmp_path / "registry"))
    return request.getfixturevalue("registry")


def test_a_published_pin_comes_back_in_version_info(tmp_path, target):
    embedding = target.publish(make_package(tmp_path, str(EMBEDDING)))
    tagger = make_package(
        tmp_path, str(TAGGER), deps={str(EMBEDDING): ">=1"}, pins={str(EMBEDDING): embedding.sha256}
    )
    target.publish(tagger)

    (info,) = target.versions(TAGGER)
    assert info.pins == {str(EMBEDDING): embedding.sha256}
    assert info.dependencies == {str(EMBEDDING): ">=1"}
    (plain,) = target.versions(EMBEDDING)
    assert plain.pins == {}
    assert [i.pins for i in target.search("tagger")] == [{str(EMBEDDING): embedding.sha256}]


def test_the_local_index_stores_pins_and_leaves_them_out_when_there_are_none(tmp_path):
    local = LocalRegistry("local", str(tmp_path / "registry"))
    embedding = local.publish(make_package(tmp_path, str(EMBEDDING)))
    local.publish(
        make_package(
            tmp_path, str(TAGGER), deps={str(EMBEDDING): ">=1"}, pins={str(EMBEDDING): embedding.sha256}
        )
    )
    rows = snapshot(tmp_path / "registry")
    assert rows[str(TAGGER)]["1.0.0"]["pins"] == {str(EMBEDDING): embedding.sha256}
    assert "pins" not in rows[str(EMBEDDING)]["1.0.0"]
    # a fresh registry object reads them back from disk, not from memory
    (info,) = LocalRegistry("local", str(tmp_path / "registry")).versions(TAGGER)
    assert info.pins == {str(EMBEDDING): embedding.sha256}
