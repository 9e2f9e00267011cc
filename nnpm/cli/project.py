"""`nnpm init`."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli.output import info


@click.command()
@click.option("--name", help="Project name (default: the directory's name).")
def init(name: str | None) -> None:
    """Create nnpm.toml with an empty [project] dependency list in the current directory."""
    from nnpm.resolve.project import init_project

    project = init_project(Path.cwd(), name)
    info(f"created {project.file}")
