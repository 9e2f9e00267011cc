"""Installs from remote registries hash each byte once, as it arrives (issue 15): the OCI and Hub
backends stream into the store's hashing writer (`fetch_into`), and nothing is read back after."""

from __future__ import annotations

import hashlib

import pytest

import nnpm.store.fetch as fetch_module
from nnpm import api
from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.registry import config as registry_config
from tests.factories import make_package
from tests.registry import hub_fixtures, oci_fixtures
from tests.registry.hub_fixtures import ALICE
from tests.registry.hub_fixtures import make_package as make_hub_package

hub_env, hub, registry, team = (
    hub_fixtures.hub_env,
    hub_fixtures.hub,
    oci_fixtures.registry,
    oci_fixtures.team,
)


@pytest.fixture
def no_second_pass(monkeypatch):
    def refuse(path):
        raise AssertionError(f"{path} was read again after it was fetched")

    monkeypatch.setattr(fetch_module, "hash_file", refuse)


def _same_bytes(installed, package) -> None:
    manifest = Manifest.read(package / MANIFEST_NAME)
    for rel, entry in manifest.files.items():
        data = (installed.path / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256 and data == (package / rel).read_bytes()


@oci_fixtures.pytestmark  # skipped, saying why, without docker-registry
def test_an_oci_install_hashes_as_it_downloads(tmp_path, team, no_second_pass):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    api.publish(package, registry="team")
    (pkg,) = api.install(["digits/mlp"], registry="team", project=False).packages
    _same_bytes(pkg, package)


def test_a_hub_install_hashes_as_it_downloads(tmp_path, hub, monkeypatch, no_second_pass):
    registry_config.add_registry("hub", "hf://my-org", endpoint=hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", ALICE)
    package = make_hub_package(tmp_path)
    api.publish(package, registry="hub")
    (pkg,) = api.install(["fmnist/sneaker-module"], registry="hub", project=False).packages
    _same_bytes(pkg, package)


def test_a_tampered_hub_file_is_refused_on_the_streamed_path(tmp_path, hub, monkeypatch):
    from nnpm.errors import IntegrityError

    registry_config.add_registry("hub", "hf://my-org", endpoint=hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", ALICE)
    package = make_hub_package(tmp_path)
    result = api.publish(package, registry="hub")
    repo = hub.repos["my-org/fmnist__sneaker-module"]
    stored = repo.commits[result.revision].files
    stored["weights.safetensors"] = stored["weights.safetensors"][:-1] + b"\x00"
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        api.install(["fmnist/sneaker-module"], registry="hub", project=False)
    assert api.list_installed() == []
