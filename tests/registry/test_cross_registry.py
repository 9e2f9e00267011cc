"""Dependencies that cross registries (issue 14): a local composite on a module in an OCI registry,
and an OCI module on a Hub embedding, each resolved, installed and locked with its registry, and
installed again from the lock alone. Real servers: docker-registry and the loopback Hub."""

from __future__ import annotations

import shutil

import pytest

from nnpm import api, config
from nnpm.package.naming import PackageName
from nnpm.registry import config as registry_config
from nnpm.resolve.lock import read_lock
from nnpm.resolve.project import init_project
from tests.factories import make_package
from tests.registry import hub_fixtures, oci_fixtures
from tests.registry.hub_fixtures import ALICE
from tests.registry.hub_fixtures import make_package as make_hub_package
from tests.registry.oci_fixtures import pytestmark  # noqa: F401

hub_env, hub, registry, team = (
    hub_fixtures.hub_env,
    hub_fixtures.hub,
    oci_fixtures.registry,
    oci_fixtures.team,
)


def _registries(lock) -> dict[str, str]:
    return {str(p.name): p.registry for p in lock.packages}


def test_a_local_composite_on_an_oci_module(tmp_path, workdir, team):
    api.publish(make_package(tmp_path, "digits/zero-module"), registry="team")
    api.publish(make_package(tmp_path, "mine/combo", deps={"digits/zero-module": ">=1"}), registry="local")
    init_project(workdir)
    api.install(["mine/combo"], registry="local")
    lock = read_lock(workdir / "nnpm.lock")
    assert _registries(lock) == {"mine/combo": "local", "digits/zero-module": "team"}
    assert lock.get(PackageName.parse("digits/zero-module")).revision.startswith("sha256:")

    shutil.rmtree(config.store_dir())  # the lock alone brings both back, each from its own registry
    assert sorted(str(p.name) for p in api.install().packages) == ["digits/zero-module", "mine/combo"]


def test_an_oci_module_on_a_hub_embedding(tmp_path, workdir, team, hub, monkeypatch):
    registry_config.add_registry("hub", "hf://my-org", endpoint=hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", ALICE)
    api.publish(make_hub_package(tmp_path, "fmnist/embedding"), registry="hub")
    module = make_package(tmp_path, "fmnist/bag-module", deps={"fmnist/embedding": "==1.0.0"})
    api.publish(module, registry="team")
    init_project(workdir)
    api.install(["fmnist/bag-module"], registry="team")
    lock = read_lock(workdir / "nnpm.lock")
    assert _registries(lock) == {"fmnist/bag-module": "team", "fmnist/embedding": "hub"}
    assert len(lock.get(PackageName.parse("fmnist/embedding")).revision) == 40  # the Hub commit sha


def test_a_dependency_in_no_registry_is_named_and_nothing_is_installed(tmp_path, workdir, team):
    from nnpm.errors import NnpmError

    api.publish(make_package(tmp_path, "mine/combo", deps={"digits/nowhere": ">=1"}), registry="team")
    init_project(workdir)
    with pytest.raises(NnpmError) as err:
        api.install(["mine/combo"], registry="team")
    assert "digits/nowhere" in err.value.one_line() and api.list_installed() == []
