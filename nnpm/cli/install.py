"""`nnpm install`, `uninstall`, `lock` and `verify`."""

from __future__ import annotations

import sys

import click

from nnpm.cli.output import emit_json, info, json_option
from nnpm.cli.package import registry_option
from nnpm.cli.params import refuse
from nnpm.errors import UsageError


def _reporter():
    """Progress for installs: a byte bar while a package's files are fetched, a line per package."""
    from nnpm.cli.progress import TqdmProgress

    return TqdmProgress()


def _installed_json(packages) -> list[dict]:
    return [{"package": str(p.name), "version": str(p.version), "sha256": p.sha256, "registry": p.registry,
             "path": str(p.path)} for p in packages]  # fmt: skip


@click.command()
@click.argument("packages", nargs=-1)
@registry_option
@click.option("--frozen", is_flag=True, help="Install exactly nnpm.lock; fail if it is missing or stale.")
@click.option("--force", is_flag=True, help="Fetch again even if the store already has the package, and replace "
              "an installed or locked copy that has another digest.")  # fmt: skip
@click.option("--pre", is_flag=True, help="Allow pre-release versions.")
@click.option("--no-save", is_flag=True, help="Do not record the named packages in nnpm.toml / nnpm.lock.")
@json_option
@click.pass_context
def install(ctx, packages, registry, frozen, force, pre, no_save, as_json) -> None:
    """Install PACKAGES (`ns/name`, `ns/name==1.0.0`, 'ns/name>=1,<2'), or, with none, what nnpm.lock
    (or nnpm.toml) asks for. Inside a project the packages are added to nnpm.toml and nnpm.lock."""
    from nnpm import api

    if frozen:
        if packages:
            raise UsageError("--frozen installs only what nnpm.lock says; it cannot add packages",
                             where=ctx.command_path, hint="drop --frozen, or the package names")  # fmt: skip
        for name in ("registry", "pre"):
            refuse(ctx, name, "does not apply with --frozen: nnpm.lock names every version and registry")
    if not packages:
        refuse(ctx, "no_save", "applies only to packages named on the command line",
               hint="drop --no-save, or name the packages to install without recording them")  # fmt: skip
    reporter = _reporter()
    try:
        result = api.install(
            packages, registry=registry, project=not no_save, frozen=frozen, force=force,
            prereleases=pre, reporter=reporter,
        )  # fmt: skip
    finally:
        reporter.close()
    if result.project is not None:
        info(f"{len(result.packages)} package(s) locked in {result.project.lock_file}")
    if as_json:
        emit_json(_installed_json(result.packages))


@click.command()
@click.argument("packages", nargs=-1, required=True)
@json_option
def uninstall(packages, as_json) -> None:
    """Remove installed packages (every version) and drop them from nnpm.toml / nnpm.lock."""
    from nnpm import api
    from nnpm.api.installing import dependents_of

    removed = api.uninstall(packages)
    for pkg in removed:
        info(f"removed {pkg.name}=={pkg.version}")
    gone = sorted({pkg.name for pkg in removed})
    for name, users in dependents_of(api.list_installed(), gone).items():
        needing = ", ".join(f"{p.name}=={p.version}" for p in users)
        click.echo(f"nnpm: warning: {name}: removed, but installed packages depend on it: {needing} "
                   f"(hint: `nnpm install {name}` puts it back; uninstall them too if they are not needed)",
                   err=True)  # fmt: skip
    if as_json:
        emit_json(_installed_json(removed))


@click.command()
@registry_option
@click.option("--pre", is_flag=True, help="Allow pre-release versions.")
@json_option
def lock(registry, pre, as_json) -> None:
    """Resolve nnpm.toml, install every package the resolution needs into the store (the lock records
    their sha256 from the installed, hash-checked files) and write nnpm.lock."""
    from nnpm import api

    reporter = _reporter()
    try:
        result = api.lock(registry=registry, prereleases=pre, reporter=reporter)
    finally:
        reporter.close()
    for pkg in result.packages:
        info(f"locked {pkg.name}=={pkg.version} ({pkg.registry})")
    if as_json:
        emit_json([{"package": str(p.name), "version": str(p.version), "sha256": p.sha256, "registry": p.registry,
                    "revision": p.revision} for p in result.packages])  # fmt: skip


@click.command()
@click.option("--signatures", is_flag=True,
              help="Also check the signature of every package the trust policy requires one of (`nnpm trust`).")  # fmt: skip
@json_option
def verify(signatures: bool, as_json) -> None:
    """Re-hash every installed file against its manifest. Exit code 3 on any mismatch.

    With --json: {"verified": N, "problems": [{"package", "problem"}]}, and still exit code 3."""
    from nnpm import api
    from nnpm.errors import IntegrityError

    problems = api.verify(signatures=signatures)
    if as_json:
        emit_json({"verified": len(api.list_installed()),
                   "problems": [{"package": p.package, "problem": p.what} for p in problems]})  # fmt: skip
    for problem in problems:
        hint = f" (hint: {problem.hint})" if problem.hint else ""
        click.echo(f"nnpm: mismatch: {problem.package}: {problem.what}{hint}", err=True)
    if problems:
        sys.exit(IntegrityError.exit_code)
    signed = ", and every signature the trust policy requires is valid" if signatures else ""
    info(f"verified {len(api.list_installed())} installed packages: every file matches its sha256{signed}")
