"""Whose signatures nnpm trusts, per namespace, kept in $NNPM_HOME/config.toml.

    [trust.fmnist]
    keys = ["/home/me/.nnpm/trust/3f2a...c1.pem"]      # elliptic-curve public keys (PEM)
    chains = ["/home/me/.nnpm/trust/9b0e...77.pem"]    # CA certificates for certificate signing

A namespace with a `[trust]` table requires a signature: `nnpm install` refuses its packages
unsigned, or signed by anyone else, and `nnpm verify --signatures` checks them again. The
namespace `*` applies to every namespace without a table of its own. `nnpm trust add` copies
each key into $NNPM_HOME/trust/, named by its sha256, so that the policy does not change when
the original file is moved or edited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from nnpm.config import Settings
from nnpm.errors import ConfigError
from nnpm.fsutil import atomic_write_bytes
from nnpm.package.files import read_text_file
from nnpm.package.naming import PackageName, validate_part
from nnpm.package.signing import TrustedSigner
from nnpm.registry.config import locked_config, read_config, settings_or_env, write_config

EVERY_NAMESPACE = "*"


@dataclass(frozen=True)
class TrustRule:
    """The signers trusted for one namespace (or `*`); a rule means a signature is required."""

    namespace: str
    signers: tuple[TrustedSigner, ...]


def rules(settings: Settings | None = None) -> dict[str, TrustRule]:
    settings = settings_or_env(settings)
    found = {}
    for namespace, table in read_config(settings).get("trust", {}).items():
        where = f"{settings.config_file}: [trust.{namespace}]"
        if not isinstance(table, dict) or not set(table) <= {"keys", "chains"}:
            raise ConfigError("a trust table holds only `keys` and `chains`", where=where)
        lists = {field: table.get(field, []) for field in ("keys", "chains")}
        for field, paths in lists.items():
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise ConfigError(f"`{field}` must be a list of file paths", where=where)
        signers = [TrustedSigner(Path(p).name, public_key=Path(p)) for p in lists["keys"]]
        signers += [TrustedSigner(Path(p).name, chain=(Path(p),)) for p in lists["chains"]]
        found[namespace] = TrustRule(namespace, tuple(signers))
    return found


def rule_for(name: PackageName, settings: Settings | None = None) -> TrustRule | None:
    """The rule that applies to a package: its namespace's, else `*`'s, else None (no signature needed)."""
    known = rules(settings)
    return known.get(name.namespace) or known.get(EVERY_NAMESPACE)


def trust(namespace: str, *, key: Path | None = None, chain: Path | None = None,
          settings: Settings | None = None) -> TrustRule:  # fmt: skip
    """Trust `key` (a PEM public key) or `chain` (a PEM CA certificate) for `namespace`."""
    if namespace != EVERY_NAMESPACE:
        validate_part(namespace, what="namespace")
    if (key is None) == (chain is None):
        raise ConfigError("give one of --key PUB.pem or --certificate-chain CA.pem", where="nnpm trust add")
    source = Path(key or chain)  # type: ignore[arg-type]
    option = "--key" if key else "--certificate-chain"
    try:
        text = read_text_file(source, limit=64 * 1024)
    except FileNotFoundError:
        raise ConfigError(
            f"no such file: {source}", where=option, hint="give the path of a PEM file"
        ) from None
    marker = "PUBLIC KEY-----" if key else "CERTIFICATE-----"
    if f"-----BEGIN {marker}" not in text:
        raise ConfigError(f"{source} holds no PEM {marker.removesuffix('-----').lower()}", where=option)
    settings = settings_or_env(settings)
    data = text.encode("utf-8")
    kept = settings.home / "trust" / f"{hashlib.sha256(data).hexdigest()}.pem"
    atomic_write_bytes(kept, data)
    with locked_config(settings):
        doc = read_config(settings)
        table = doc.setdefault("trust", {}).setdefault(namespace, {})
        field = "keys" if key else "chains"
        paths = list(table.get(field, []))
        if str(kept) not in paths:
            table[field] = [*paths, str(kept)]
        write_config(doc, settings)
    return rules(settings)[namespace]


def distrust(namespace: str, settings: Settings | None = None) -> None:
    """Drop the namespace's rule: its packages no longer need a signature."""
    with locked_config(settings):
        doc = read_config(settings)
        if namespace not in doc.get("trust", {}):
            raise ConfigError(
                f"no trust rule for namespace {namespace!r}", hint="`nnpm trust list` shows the rules"
            )
        del doc["trust"][namespace]
        write_config(doc, settings)
