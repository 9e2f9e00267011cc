"""The trust policy at install (issue 14): a namespace with a rule installs only packages signed by
a key it trusts, checked on the staged copy before anything is replaced; `nnpm verify --signatures`
checks what is installed. Through the local registry here; tests/registry/test_oci_signing.py and
test_hub_signing.py run the same through docker-registry and the loopback Hub.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("model_signing", reason="signing needs the sign extra: pip install 'nnpm[sign]'")

from nnpm import api, config  # noqa: E402
from nnpm.errors import SignatureError  # noqa: E402
from nnpm.package.manifest import MANIFEST_NAME  # noqa: E402
from nnpm.package.signing import SIGNATURE_NAME, SigningKey  # noqa: E402
from nnpm.registry import trust  # noqa: E402
from tests.factories import make_package, run_cli  # noqa: E402


def _publish(tmp_path, keys, name="test/mlp", version="1.0.0", signer: str | None = "team", seed=0):
    package = make_package(
        tmp_path / f"{name.replace('/', '-')}-{version}-{signer}", name, version, seed=seed
    )
    if signer:
        api.sign(package, SigningKey(keys[signer][0]))
    api.publish(package)
    return package


def _installed() -> list[str]:
    return sorted(f"{p.name}=={p.version}" for p in api.list_installed())


def test_a_package_signed_by_a_trusted_key_installs_with_its_signature(tmp_path, keys, capsys):
    package = _publish(tmp_path, keys)
    trust.trust("test", key=keys["team"][1])
    (pkg,) = api.install(["test/mlp"], project=False).packages
    assert (pkg.path / SIGNATURE_NAME).read_bytes() == (package / SIGNATURE_NAME).read_bytes()
    assert api.verify(signatures=True) == []
    code, _, err = run_cli(capsys, "verify", "--signatures")
    assert code == 0, err


@pytest.mark.parametrize("signer", [None, "stranger"], ids=["unsigned", "untrusted"])
def test_an_unsigned_or_untrusted_package_is_refused_and_nothing_is_installed(tmp_path, keys, capsys, signer):
    _publish(tmp_path, keys, signer=signer)
    trust.trust("test", key=keys["team"][1])
    code, _, err = run_cli(capsys, "install", "test/mlp")
    said = "is not signed" if signer is None else "signed, but by none of the keys trusted for it"
    assert code == SignatureError.exit_code and err.count("\n") == 1 and said in err
    assert _installed() == []
    assert not any((config.store_dir() / "packages").rglob(MANIFEST_NAME))


def test_other_namespaces_need_no_signature_unless_every_namespace_is_ruled(tmp_path, keys):
    _publish(tmp_path, keys, name="other/mlp", signer=None)
    trust.trust("test", key=keys["team"][1])
    api.install(["other/mlp"], project=False)
    trust.trust("*", key=keys["team"][1])
    with pytest.raises(SignatureError):
        api.install(["other/mlp"], project=False, force=True)
    assert _installed() == ["other/mlp==1.0.0"]  # the refused reinstall left the old copy in place


def test_a_refused_force_reinstall_keeps_the_installed_copy(tmp_path, keys):
    _publish(tmp_path, keys, signer=None)
    (before,) = api.install(["test/mlp"], project=False).packages
    trust.trust("test", key=keys["team"][1])
    with pytest.raises(SignatureError):
        api.install(["test/mlp"], project=False, force=True)
    assert _installed() == ["test/mlp==1.0.0"] and (before.path / MANIFEST_NAME).is_file()
    problems = api.verify(signatures=True)
    assert [p.package for p in problems] == ["test/mlp==1.0.0"] and "is not signed" in problems[0].what


def test_signing_after_publishing_lets_the_installed_copy_be_refreshed(tmp_path, keys):
    package = _publish(tmp_path, keys, signer=None)
    api.install(["test/mlp"], project=False)
    trust.trust("test", key=keys["team"][1])
    api.sign(package, SigningKey(keys["team"][0]))
    assert not api.publish(package).created  # the same digest: the signature joins the published version
    (pkg,) = api.install(["test/mlp"], project=False).packages  # the unsigned copy is fetched again
    assert (pkg.path / SIGNATURE_NAME).is_file() and api.verify(signatures=True) == []


def test_verify_signatures_notices_an_altered_signature(tmp_path, keys, capsys):
    _publish(tmp_path, keys)
    trust.trust("test", key=keys["team"][1])
    (pkg,) = api.install(["test/mlp"], project=False).packages
    signature = pkg.path / SIGNATURE_NAME
    os.chmod(signature, 0o644)
    signature.write_text(signature.read_text().replace('"sig":"', '"sig":"AAAA', 1))
    assert api.verify() == []  # the files are intact: only the signature check sees it
    code, _, err = run_cli(capsys, "verify", "--signatures")
    assert code == 3 and "test/mlp==1.0.0" in err and "signature" in err


def test_the_lock_reinstalls_only_signed_copies(tmp_path, keys, workdir, capsys):
    from nnpm.resolve.project import init_project

    _publish(tmp_path, keys, signer=None)
    init_project(workdir)
    api.install(["test/mlp"])
    trust.trust("test", key=keys["team"][1])
    code, _, err = run_cli(capsys, "install", "--frozen")
    assert code == 3 and "is not signed" in err
