"""Signed packages (issue 14): `nnpm sign`, the trust policy, and the checks of model-signing.

Keys and certificates are made here with `cryptography` (model-signing's own dependency): an
elliptic-curve key pair, and a CA with a code-signing leaf certificate for certificate signing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

pytest.importorskip("model_signing", reason="signing needs the sign extra: pip install 'nnpm[sign]'")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from nnpm import api  # noqa: E402
from nnpm.errors import InvalidNameError, SignatureError  # noqa: E402
from nnpm.package.signing import SIGNATURE_NAME, SigningKey, TrustedSigner, verify_directory  # noqa: E402
from nnpm.registry import trust  # noqa: E402
from tests.conftest import key_pair  # noqa: E402
from tests.factories import make_package, run_cli  # noqa: E402


@pytest.fixture
def signed(tmp_path, keys) -> Path:
    package = make_package(tmp_path)
    api.sign(package, SigningKey(keys["team"][0]))
    return package


def test_sign_then_verify_with_the_trusted_key(signed, keys):
    assert (signed / SIGNATURE_NAME).is_file()
    bundle = json.loads((signed / SIGNATURE_NAME).read_text())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"  # model-signing's format
    team = TrustedSigner("team", public_key=keys["team"][1])
    assert verify_directory(signed, [team], where="test/mlp==1.0.0") == team


def test_one_changed_byte_of_one_file_fails_verification(signed, keys):
    weights = signed / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(SignatureError, match="not the ones signed: weights.safetensors changed"):
        verify_directory(signed, [TrustedSigner("team", public_key=keys["team"][1])], where="x")


def test_a_signature_by_an_untrusted_key_and_a_missing_one_are_refused(signed, keys, tmp_path):
    stranger = TrustedSigner("stranger.pub.pem", public_key=keys["stranger"][1])
    with pytest.raises(
        SignatureError, match=r"signed, but by none of the keys trusted for it \(stranger.pub.pem\)"
    ):
        verify_directory(signed, [stranger], where="x")
    unsigned = make_package(tmp_path / "unsigned")
    with pytest.raises(SignatureError, match="is not signed"):
        verify_directory(unsigned, [stranger], where="x")


def test_an_altered_signature_is_refused(signed, keys):
    bundle = json.loads((signed / SIGNATURE_NAME).read_text())
    sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    (signed / SIGNATURE_NAME).write_text(json.dumps(bundle))
    with pytest.raises(SignatureError, match="not a valid signature"):
        verify_directory(signed, [TrustedSigner("team", public_key=keys["team"][1])], where="x")


def test_a_signed_package_publishes_with_the_digest_it_had(signed):
    from nnpm.package.manifest import MANIFEST_NAME, sha256_bytes

    assert api.publish(signed).sha256 == sha256_bytes((signed / MANIFEST_NAME).read_bytes())


def test_repacking_keeps_a_signature_of_the_same_files_and_drops_a_stale_one(signed, capsys):
    assert run_cli(capsys, "pack", str(signed))[0] == 0
    assert (signed / SIGNATURE_NAME).is_file()  # nothing changed: the signature still signs these files
    (signed / "notes.txt").write_text("added after signing\n")
    assert run_cli(capsys, "pack", str(signed))[0] == 0
    assert not (signed / SIGNATURE_NAME).exists()


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(leaf key, leaf certificate, CA certificate): a CA and a code-signing certificate it issued."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nnpm test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf_private, _, leaf_key = key_pair(directory, "leaf")
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "publisher@team.example")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf_pem, ca_pem = directory / "leaf.crt", directory / "ca.crt"
    leaf_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return leaf_private, leaf_pem, ca_pem


def test_certificate_signing_verifies_against_the_trusted_ca(tmp_path):
    key, certificate, ca = _certificates(tmp_path / "pki")
    package = make_package(tmp_path)
    api.sign(package, SigningKey(key, certificate, (ca,)))
    signer = verify_directory(package, [TrustedSigner("ca.crt", chain=(ca,))], where="x")
    assert signer.label == "ca.crt"
    other_ca = _certificates(tmp_path / "other-pki")[2]
    with pytest.raises(SignatureError):
        verify_directory(package, [TrustedSigner("other", chain=(other_ca,))], where="x")


def test_nnpm_sign_cli_and_its_bad_input(tmp_path, keys, capsys):
    package = make_package(tmp_path)
    code, out, _ = run_cli(capsys, "sign", str(package), "--key", str(keys["team"][0]), "--json")
    assert code == 0 and json.loads(out) == {"signature": str(package / SIGNATURE_NAME)}
    code, _, err = run_cli(capsys, "sign", str(package), "--key", str(tmp_path / "nowhere.pem"))
    assert code == 2 and err.count("\n") == 1 and "nowhere.pem" in err
    code, _, err = run_cli(capsys, "sign", str(package), "--key", str(keys["team"][0]), "--certificate-chain",
                           str(keys["team"][1]))  # fmt: skip
    assert code == 2 and "--certificate-chain applies only with --certificate" in err
    code, _, err = run_cli(capsys, "sign", str(package), "--key", str(keys["team"][1]))  # a public key
    assert code != 0 and err.count("\n") == 1 and "cannot use" in err
    (package / "weights.safetensors").write_bytes(b"changed")
    code, _, err = run_cli(capsys, "sign", str(package), "--key", str(keys["team"][0]))
    assert code == 3 and "sha256 mismatch" in err  # an unpacked change is refused before signing


def test_the_trust_policy_keeps_a_copy_of_each_key(tmp_path, keys, capsys):
    code, _, _ = run_cli(capsys, "trust", "add", "test", "--key", str(keys["team"][1]))
    assert code == 0
    keys["team"][1].write_text("edited after trusting\n")  # the policy kept its own copy
    (rule,) = trust.rules().values()
    assert rule.namespace == "test" and "BEGIN PUBLIC KEY" in rule.signers[0].public_key.read_text()
    code, out, _ = run_cli(capsys, "trust", "list", "--json")
    assert code == 0 and json.loads(out)[0]["namespace"] == "test"
    assert run_cli(capsys, "trust", "remove", "test")[0] == 0 and trust.rules() == {}
    code, _, err = run_cli(capsys, "trust", "remove", "test")
    assert code != 0 and "no trust rule for namespace 'test'" in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--key", "{team_private}"], "holds no PEM public key"),
        (["--key", "{missing}"], "no such file"),
        ([], "give one of --key PUB.pem or --certificate-chain CA.pem"),
    ],
)
def test_trust_add_refuses_what_is_not_a_public_key(tmp_path, keys, capsys, args, said):
    values = {"team_private": keys["team"][0], "missing": tmp_path / "missing.pem"}
    code, _, err = run_cli(capsys, "trust", "add", "test", *[a.format(**values) for a in args])
    assert code != 0 and err.count("\n") == 1 and said in err
    with pytest.raises(InvalidNameError):
        trust.trust("Bad_Namespace!", key=keys["team"][1])
