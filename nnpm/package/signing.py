"""Signatures over a package's files, in the OpenSSF model-signing format.

`nnpm sign` writes `nnpm.sig` beside the package's files: a Sigstore bundle made by the
`model-signing` library (the `sign` extra) over every file of the package, nnpm.toml included.
nnpm.toml already lists every other file's sha256, so the signature vouches for the whole
package; it is not listed in `[files]` (it cannot sign itself), travels with the package through
every registry, and leaves the package's digest as it was.

Signing and verifying are offline: an elliptic-curve key pair (PEM), or a private key with its
certificate and the chain up to a CA the verifier trusts. Keyless Sigstore signing needs the
network and is not offered. Verification always uses nnpm's own hashing configuration, never
the one the signature declares, so a signature cannot exempt a file from being checked.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nnpm.errors import ConfigError, SignatureError
from nnpm.fsutil import atomic_write_bytes
from nnpm.package.files import read_text_file

SIGNATURE_NAME = "nnpm.sig"
#: what a signature never covers: itself, and the record the store writes into an installed copy
NOT_SIGNED = (SIGNATURE_NAME, ".nnpm-install.json")
#: a Sigstore bundle over a package is a few kilobytes; anything far larger is not one
MAX_SIGNATURE_BYTES = 1 << 20


@dataclass(frozen=True)
class SigningKey:
    """A private key (PEM); with `certificate`, certificate-based signing (and `chain` up to a CA)."""

    private_key: Path
    certificate: Path | None = None
    chain: tuple[Path, ...] = ()


@dataclass(frozen=True)
class TrustedSigner:
    """What a verifier trusts: a public key (PEM), or a certificate chain (PEM files) up to a CA."""

    label: str
    public_key: Path | None = None
    chain: tuple[Path, ...] = ()


def _model_signing():
    try:
        import model_signing.hashing
        import model_signing.signing
        import model_signing.verifying
    except ImportError:
        raise ConfigError(
            "signing needs the model-signing library, which is not installed",
            hint="pip install 'nnpm[sign]'",
        ) from None
    return model_signing


def _hashing(ms, ignored: Sequence[str]):
    return (
        ms.hashing.Config()
        .use_file_serialization(hashing_algorithm="sha256", allow_symlinks=False)
        .set_ignored_paths(paths=list(ignored), ignore_git_paths=False)
    )


def sign_directory(directory: Path, key: SigningKey) -> Path:
    """Sign the package folder `directory` (already checked by the caller); write nnpm.sig atomically.

    Hidden names are not part of a package directory (docs/package-format.md), so they are left
    out of the signature as they are left out of publish."""
    ms = _model_signing()
    hidden = [p.relative_to(directory).as_posix() for p in directory.rglob(".*")]
    config = ms.signing.Config().set_hashing_config(_hashing(ms, [*NOT_SIGNED, *hidden]))
    if key.certificate is not None and not key.chain:
        raise ConfigError(
            "certificate signing needs the chain up to the CA", where="--certificate-chain",
            hint="give --certificate-chain CA.pem (and any intermediates)",
        )  # fmt: skip
    for path in (key.private_key, key.certificate, *key.chain):
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"no such file: {path}", where="--key", hint="give the path of a PEM file")
    try:
        if key.certificate is None:
            config.use_elliptic_key_signer(private_key=key.private_key)
        else:
            config.use_certificate_signer(
                private_key=key.private_key, signing_certificate=key.certificate, certificate_chain=key.chain
            )
    except ValueError as exc:  # the key or certificate does not parse
        raise ConfigError(
            f"cannot use {key.private_key} to sign: {' '.join(str(exc).split())[:200]}",
            where="--key",
            hint="give an elliptic-curve private key in PEM (PKCS#8 or SEC1), and its certificate if any",
        ) from None
    with _outside(directory) as scratch:  # written beside, not inside, so it never signs itself
        config.sign(directory, scratch)
        atomic_write_bytes(directory / SIGNATURE_NAME, scratch.read_bytes())
    return directory / SIGNATURE_NAME


@contextlib.contextmanager
def _outside(directory: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=".nnpm-sign-", dir=directory.parent) as scratch:
        yield Path(scratch) / SIGNATURE_NAME


def verify_directory(directory: Path, trusted: Sequence[TrustedSigner], *, where: str) -> TrustedSigner:
    """The trusted signer whose signature covers exactly the files of `directory`; SignatureError
    when the signature is missing, by nobody in `trusted`, or does not match the files."""
    path = directory / SIGNATURE_NAME
    if not path.is_file() or path.is_symlink():
        raise SignatureError(f"{where} is not signed (no {SIGNATURE_NAME})", where=str(directory))
    read_text_file(path, limit=MAX_SIGNATURE_BYTES)  # a regular text file of sane size, or a ManifestError
    ms = _model_signing()
    from cryptography.exceptions import InvalidSignature  # model-signing's own dependencies
    from OpenSSL.crypto import X509StoreContextError

    refusals = []
    for signer in trusted:
        config = ms.verifying.Config().set_hashing_config(_hashing(ms, NOT_SIGNED))
        try:
            if signer.public_key is not None:
                config.use_elliptic_key_verifier(public_key=signer.public_key)
            else:
                config.use_certificate_verifier(certificate_chain=signer.chain, log_fingerprints=False)
            config.verify(directory, path)
            return signer
        except X509StoreContextError:  # the certificate does not chain up to this CA
            refusals.append(signer.label)
            continue
        except InvalidSignature:  # the hint names this key, the bytes were not signed by it
            raise _refusal("the signature does not verify: nnpm.sig was altered", where, directory) from None
        except ValueError as exc:  # model-signing reports every other refusal as a ValueError
            message = " ".join(str(exc).split())
            if not message.lower().startswith(OTHER_SIGNER):
                raise _refusal(message, where, directory) from None
            refusals.append(signer.label)
    raise SignatureError(
        f"{where} is signed, but by none of the keys trusted for it ({', '.join(refusals) or 'none'})",
        where=str(directory),
        hint="trust the publisher's key with `nnpm trust add NAMESPACE --key PUB.pem`, or install another build",
    )


#: how model-signing begins a refusal that means "signed, but by another key or certificate"
OTHER_SIGNER = ("key mismatch", "certificate", "signature verification failed", "invalid signature")


def _refusal(message: str, where: str, directory: Path) -> SignatureError:
    """model-signing's refusal in nnpm's words: which file differs from what was signed, or why
    nnpm.sig is no signature at all."""
    if message.startswith("Signature mismatch"):
        changed = re.findall(r"Hash mismatch for '([^']+)'", message)
        extra = re.findall(r"Extra files found in model '[^']*': ([^\"\]]+)", message)
        missing = re.findall(r"Missing files in model '[^']*': ([^\"\]]+)", message)
        parts = [f"{', '.join(changed)} changed" if changed else "", f"{', '.join(extra)} not signed" if extra else "",
                 f"{', '.join(missing)} missing" if missing else ""]  # fmt: skip
        detail = "; ".join(p for p in parts if p) or message[:200]
        return SignatureError(
            f"the files of {where} are not the ones signed: {detail}",
            where=str(directory),
            hint="a file was changed after signing: reinstall the package, and tell its publisher if it recurs",
        )
    return SignatureError(
        f"{SIGNATURE_NAME} of {where} is not a valid signature ({message[:160]})",
        where=str(directory),
        hint="ask the publisher to sign the package again (`nnpm sign DIR --key KEY`)",
    )
