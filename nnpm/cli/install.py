"""`nnpm install`, `uninstall`, `lock` and `verify`."""

from __future__ import annotations

import sys

import click

from nnpm.cli.output import emit_json, info, is_quiet, json_option
from nnpm.cli.package import registry_option


def _reporter():
    """Progress for installs: a line per package and a byte bar while files are fetched."""
    from tqdm import tqdm

    from nnpm.api import Reporter

    quiet = is_quiet()

    class CliReporter(Reporter):
        bar = None

        def fetching(self, info_, total_bytes):
            self.close()
            self.bar = tqdm(total=total_bytes, desc=f"{info_.name} {info_.version}", unit="B", unit_scale=True,
                            disable=True if quiet else None, leave=False, file=sys.stderr)  # fmt: skip

        def advance(self, nbytes):
            if self.bar is not None:
                self.bar.update(nbytes)

        def installed(self, info_, reused):
            self.close()
            if not reused:
                info(f"installed {info_.name}=={info_.version}")

        def close(self):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return CliReporter()


@click.command()
@click.argument("packages", nargs=-1)
@registry_option
@click.option("--frozen", is_flag=True, help="Install exactly nnpm.lock; fail if it is missing or stale.")
@click.option("--force", is_flag=True, help="Fetch again even if the store already has the package.")
@click.option("--pre", is_flag=True, help="Allow pre-release versions.")
@click.option("--no-save", is_flag=True, help="Do not record the packages in nnpm.toml / nnpm.lock.")
@json_option
def install(packages, registry, frozen, force, pre, no_save, as_json) -> None:
    """Install PACKAGES (`ns/name`, `ns/name==1.0.0`, 'ns/name>=1,<2'), or, with none, what nnpm.lock
    (or nnpm.toml) asks for. Inside a project the packages are added to nnpm.toml and nnpm.lock."""
    from nnpm import api

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
        emit_json([{"package": str(p.name), "version": str(p.version), "sha256": p.sha256, "registry": p.registry,
                    "path": str(p.path)} for p in result.packages])  # fmt: skip


@click.command()
@click.argument("packages", nargs=-1, required=True)
def uninstall(packages) -> None:
    """Remove installed packages (every version) and drop them from nnpm.toml / nnpm.lock."""
    from nnpm import api

    for pkg in api.uninstall(packages):
        info(f"removed {pkg.name}=={pkg.version}")


@click.command()
@registry_option
@click.option("--pre", is_flag=True, help="Allow pre-release versions.")
def lock(registry, pre) -> None:
    """Resolve nnpm.toml and write nnpm.lock."""
    from nnpm import api

    reporter = _reporter()
    try:
        result = api.lock(registry=registry, prereleases=pre, reporter=reporter)
    finally:
        reporter.close()
    for pkg in result.packages:
        info(f"locked {pkg.name}=={pkg.version} ({pkg.registry})")


@click.command()
@json_option
def verify(as_json) -> None:
    """Re-hash every installed file against its manifest. Exit code 3 on any mismatch."""
    from nnpm import api
    from nnpm.errors import IntegrityError

    problems = api.verify()
    if as_json:
        emit_json([{"package": p.package, "problem": p.what} for p in problems])
    for problem in problems:
        click.echo(f"nnpm: mismatch: {problem.package}: {problem.what}", err=True)
    if problems:
        sys.exit(IntegrityError.exit_code)
    info(f"verified {len(api.list_installed())} installed packages: every file matches its sha256")
