"""`nnpm sign` and `nnpm trust add | list | remove` (docs/signing.md)."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli.output import emit_json, info, json_option

_PEM = click.Path(path_type=Path, dir_okay=False)


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--key", "private_key", type=_PEM, required=True, help="Private key (PEM) to sign with.")
@click.option("--certificate", type=_PEM, help="The key's certificate (PEM), for certificate-based signing.")
@click.option("--certificate-chain", "chain", type=_PEM, multiple=True,
              help="Intermediate certificates up to the CA (PEM); repeat for several. Needs --certificate.")  # fmt: skip
@json_option
def sign(
    directory: Path, private_key: Path, certificate: Path | None, chain: tuple[Path, ...], as_json
) -> None:
    """Sign the packed package DIRECTORY: writes DIRECTORY/nnpm.sig (OpenSSF model-signing format)
    over every file. The signature travels with the package when it is published; its digest is unchanged."""
    from nnpm import api
    from nnpm.errors import UsageError
    from nnpm.package.signing import SigningKey

    if chain and certificate is None:
        raise UsageError("--certificate-chain applies only with --certificate", where="nnpm sign",
                         hint="give the key's --certificate too, or drop --certificate-chain")  # fmt: skip
    path = api.sign(directory, SigningKey(private_key, certificate, chain))
    if as_json:
        emit_json({"signature": str(path)})
    else:
        info(f"signed {directory} -> {path}")


@click.group()
def trust() -> None:
    """Name the keys whose signatures nnpm trusts, per namespace: a namespace with a rule
    requires a signature at install (`*` stands for every namespace without its own rule)."""


@trust.command("add")
@click.argument("namespace")
@click.option("--key", type=_PEM, help="A public key (PEM) whose signatures are trusted.")
@click.option(
    "--certificate-chain", "chain", type=_PEM, help="A CA certificate (PEM) for certificate signing."
)
def add(namespace: str, key: Path | None, chain: Path | None) -> None:
    """Trust KEY (or a CA) for NAMESPACE's packages; from now on they must be signed."""
    from nnpm.registry import trust as policy

    rule = policy.trust(namespace, key=key, chain=chain)
    info(f"namespace {rule.namespace}: {len(rule.signers)} trusted signer(s); its packages must be signed")


@trust.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the trust rules: each namespace and the key files it trusts."""
    from nnpm.registry import trust as policy

    rules = policy.rules()
    if as_json:
        emit_json([{"namespace": r.namespace, "keys": [str(s.public_key) for s in r.signers if s.public_key],
                    "chains": [str(c) for s in r.signers for c in s.chain]} for r in rules.values()])  # fmt: skip
        return
    if not rules:
        info("no trust rules: signatures are not required")
    for rule in rules.values():
        for signer in rule.signers:
            click.echo(
                f"{rule.namespace}  {'key' if signer.public_key else 'ca'}  {signer.public_key or signer.chain[0]}"
            )


@trust.command("remove")
@click.argument("namespace")
def remove(namespace: str) -> None:
    """Drop NAMESPACE's rule: its packages no longer need a signature."""
    from nnpm.registry import trust as policy

    policy.distrust(namespace)
    info(f"namespace {namespace}: no longer requires signatures")
