"""How commands talk to people and scripts: quiet mode, --json and one-line messages."""

from __future__ import annotations

import json
from typing import Any

import click


def is_quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("quiet"):
            return True
        ctx = ctx.parent
    return False


def info(message: str) -> None:
    """A progress or status line for people; suppressed by -q."""
    if not is_quiet():
        click.echo(message, err=True)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
