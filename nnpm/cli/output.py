"""How commands talk to people and scripts: quiet mode, --json, one-line errors, and the global options.

Global options (`-q`, `--offline`) are added to the group and to every command, so that they
work before or after the subcommand (`nnpm -q install x`, `nnpm install x -q`).
"""

from __future__ import annotations

import os
from typing import Any

import click

_QUIET = "nnpm.quiet"  # key in click's context meta, which every nested context shares


def is_quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_QUIET))


def info(message: str) -> None:
    """A progress or status line for people; suppressed by -q."""
    if not is_quiet():
        click.echo(message, err=True)


def emit_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


# --- global options ------------------------------------------------------------------------------


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_QUIET] = True


def _set_offline(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        os.environ["NNPM_OFFLINE"] = "1"


def global_options() -> list[click.Option]:
    """Fresh copies of the options every command accepts (click parameters belong to one command)."""
    return [
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=_set_quiet,
            help="Print only errors and requested output.",
        ),  # fmt: skip
        click.Option(
            ["--offline"],
            is_flag=True,
            expose_value=False,
            callback=_set_offline,
            help="Never touch the network (same as NNPM_OFFLINE=1).",
        ),  # fmt: skip
    ]


GLOBAL_FLAGS = frozenset(opt for o in global_options() for opt in o.opts)


def with_global_options(command: click.Command) -> click.Command:
    """Add the global options to `command` and, for a group, to each of its subcommands (once)."""
    if not getattr(command, "_nnpm_global_options", False):
        clash = GLOBAL_FLAGS & {opt for p in command.params for opt in getattr(p, "opts", ())}
        if clash:
            raise RuntimeError(f"command {command.name!r} defines global option(s) {sorted(clash)}")
        command.params.extend(global_options())
        command._nnpm_global_options = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_global_options(sub)
    return command


# --- errors --------------------------------------------------------------------------------------


def wants_json(args: list[str]) -> bool:
    """Whether the command line asks for JSON (before a `--`, after which everything is an argument)."""
    head = args[: args.index("--")] if "--" in args else args
    return "--json" in head


def print_error(error: dict[str, Any], *, as_json: bool) -> None:
    """One line on stderr, always; with --json also `{"error": {...}}` on stdout, where the result would go."""
    if as_json:
        import json

        click.echo(json.dumps({"error": error}))
    head = f"{error['where']}: {error['message']}" if error.get("where") else error["message"]
    click.echo(" ".join(f"nnpm: error: {head} (hint: {error['hint']})".split()), err=True)


def click_error(exc: click.ClickException) -> dict[str, Any]:
    """A click parsing error (unknown option, bad value, missing argument) in nnpm's error shape."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "nnpm"
    message = " ".join(exc.format_message().split()).removesuffix(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    is_usage = isinstance(exc, click.UsageError)
    return {
        "type": "UsageError" if is_usage else type(exc).__name__,
        "message": message,
        "where": where,
        "hint": f"see `{where} --help`",
        "exit_code": exc.exit_code,
    }
