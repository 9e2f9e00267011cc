"""Signed packages through the loopback Hub (issue 14): nnpm.sig is one more file of the version's
commit; a Hub tag names one commit, so a signature made after publishing is refused there."""

from __future__ import annotations

import pytest

pytest.importorskip("model_signing", reason="signing needs the sign extra: pip install 'nnpm[sign]'")

from nnpm import api  # noqa: E402
from nnpm.errors import ImmutableVersionError, SignatureError  # noqa: E402
from nnpm.package.signing import SIGNATURE_NAME, SigningKey  # noqa: E402
from nnpm.registry import config as registry_config  # noqa: E402
from nnpm.registry import trust  # noqa: E402
from tests.registry import hub_fixtures  # noqa: E402
from tests.registry.hub_fixtures import ALICE, make_package  # noqa: E402

hub_env, hub = hub_fixtures.hub_env, hub_fixtures.hub
REPO = "my-org/fmnist__sneaker-module"


@pytest.fixture
def hub_registry(hub, monkeypatch):
    registry_config.add_registry("hub", "hf://my-org", endpoint=hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", ALICE)
    return hub


def test_a_signed_package_on_the_hub_installs_under_the_policy(tmp_path, hub_registry, keys):
    package = make_package(tmp_path)
    api.sign(package, SigningKey(keys["team"][0]))
    result = api.publish(package, registry="hub")
    committed = hub_registry.repos[REPO].commits[result.revision].files
    assert committed[SIGNATURE_NAME] == (package / SIGNATURE_NAME).read_bytes()
    trust.trust("fmnist", key=keys["team"][1])
    (pkg,) = api.install(["fmnist/sneaker-module"], registry="hub", project=False).packages
    assert (pkg.path / SIGNATURE_NAME).is_file() and api.verify(signatures=True) == []


def test_an_unsigned_hub_package_is_refused_and_cannot_be_signed_in_place(tmp_path, hub_registry, keys):
    package = make_package(tmp_path)
    api.publish(package, registry="hub")
    trust.trust("fmnist", key=keys["team"][1])
    with pytest.raises(SignatureError, match="is not signed"):
        api.install(["fmnist/sneaker-module"], registry="hub", project=False)
    api.sign(package, SigningKey(keys["team"][0]))
    with pytest.raises(ImmutableVersionError, match="a Hub tag cannot take a file later"):
        api.publish(package, registry="hub")
