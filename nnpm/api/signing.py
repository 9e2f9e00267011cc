"""Signing packages and checking installed ones against the trust policy (docs/signing.md).

The policy (nnpm.registry.trust) names, per namespace, whose signatures nnpm trusts; a namespace
with a rule requires a signature. Installs check a staged copy before it replaces anything, so a
refused package leaves the store as it was; `verify --signatures` checks what is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nnpm.errors import SignatureError
from nnpm.package.naming import PackageName
from nnpm.registry import trust
from nnpm.store.store import Problem

if TYPE_CHECKING:
    from nnpm.package.signing import SigningKey


def sign(directory: Path, key: SigningKey) -> Path:
    """Check the packed package in `directory` as publish would, then write its nnpm.sig."""
    from nnpm.package.pack import check_package  # only signing pays for pack's imports
    from nnpm.package.signing import sign_directory

    check_package(directory)
    return sign_directory(directory, key)


def staged_check(client, name: PackageName, version: object) -> Callable[[Path], None] | None:
    """What an install of `name` must pass before it goes in: the signature its rule requires."""
    rule = trust.rule_for(name, client.settings)
    if rule is None:
        return None

    def check(directory: Path) -> None:
        from nnpm.package.signing import verify_directory

        verify_directory(directory, rule.signers, where=f"{name}=={version}")

    return check


def verify_signatures(client) -> list[Problem]:
    """A Problem for each installed package whose rule's signature is missing, wrong or untrusted."""
    problems = []
    for pkg in client.store.installed():
        check = staged_check(client, pkg.name, pkg.version)
        if check is None:
            continue
        try:
            check(pkg.path)
        except SignatureError as exc:
            problems.append(Problem(f"{pkg.name}=={pkg.version}", exc.what, pkg.path, exc.hint))
    return problems
