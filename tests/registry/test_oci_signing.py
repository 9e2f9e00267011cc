"""Signed packages through a real OCI registry (docker-registry on loopback, issue 14).

The signature is its own artifact under the tag `sha256-<package manifest hex>.sig`, with the
package's manifest as its `subject`; the package's manifest (the digest locks pin) is untouched.
"""

from __future__ import annotations

import pytest

pytest.importorskip("model_signing", reason="signing needs the sign extra: pip install 'nnpm[sign]'")

from nnpm import api  # noqa: E402
from nnpm.errors import SignatureError  # noqa: E402
from nnpm.package.signing import SIGNATURE_NAME, SigningKey  # noqa: E402
from nnpm.registry import config as registry_config  # noqa: E402
from nnpm.registry import trust  # noqa: E402
from nnpm.registry.oci.signature import signature_tag  # noqa: E402
from tests.factories import make_package  # noqa: E402
from tests.registry import oci_fixtures  # noqa: E402
from tests.registry.oci_fixtures import pytestmark  # noqa: E402, F401
from tests.registry.test_oci_registry import NAME, _manifest_doc  # noqa: E402

registry, team = oci_fixtures.registry, oci_fixtures.team


def test_a_signed_package_travels_as_a_referrer_and_installs_under_the_policy(tmp_path, team, keys):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    api.sign(package, SigningKey(keys["team"][0]))
    result = api.publish(package, registry="team")
    doc = _manifest_doc(team, signature_tag(result.revision))
    assert doc["subject"]["digest"] == result.revision
    assert doc["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    oci = registry_config.open_registry("team")
    (info,) = oci.versions(NAME)
    assert oci.fetch_signature(info) == (package / SIGNATURE_NAME).read_bytes()

    trust.trust("digits", key=keys["team"][1])
    (pkg,) = api.install(["digits/mlp"], registry="team", project=False).packages
    assert (pkg.path / SIGNATURE_NAME).is_file() and api.verify(signatures=True) == []


def test_signing_after_publishing_keeps_the_manifest_digest(tmp_path, team, keys):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    first = api.publish(package, registry="team")
    oci = registry_config.open_registry("team")
    assert oci.fetch_signature(oci.versions(NAME)[0]) is None
    trust.trust("digits", key=keys["team"][1])
    with pytest.raises(SignatureError, match="is not signed"):
        api.install(["digits/mlp"], registry="team", project=False)

    api.sign(package, SigningKey(keys["team"][0]))
    again = api.publish(package, registry="team")
    assert not again.created and again.revision == first.revision  # the tag still names the same manifest
    api.install(["digits/mlp"], registry="team", project=False)


def test_a_signature_tag_that_holds_something_else_is_refused(tmp_path, team, keys):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    result = api.publish(package, registry="team")
    oci = registry_config.open_registry("team")
    repo = oci.repository(NAME)
    body = oci.client.get_manifest(repo, result.revision)[0]
    oci.client.put_manifest(repo, signature_tag(result.revision), body)  # the package's own manifest again
    with pytest.raises(SignatureError, match="holds no nnpm signature of this version"):
        oci.fetch_signature(oci.versions(NAME)[0])
