"""The `nnpm` command line: a thin layer over the library.

Subcommands live in their own modules and are imported only when invoked, so
`nnpm --help` and the registry commands start without importing torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from nnpm._version import __version__
from nnpm.cli.output import click_error, print_error, wants_json, with_global_options
from nnpm.errors import NnpmError

#: command name -> "module:attribute" of its click command.
COMMANDS = {
    "init": "nnpm.cli.project:init",
    "pack": "nnpm.cli.package:pack",
    "publish": "nnpm.cli.package:publish",
    "install": "nnpm.cli.install:install",
    "uninstall": "nnpm.cli.install:uninstall",
    "lock": "nnpm.cli.install:lock",
    "verify": "nnpm.cli.install:verify",
    "sign": "nnpm.cli.signing:sign",
    "trust": "nnpm.cli.signing:trust",
    "list": "nnpm.cli.query:list_",
    "search": "nnpm.cli.query:search",
    "show": "nnpm.cli.query:show",
    "families": "nnpm.cli.query:families",
    "registry": "nnpm.cli.registry:registry",
    "quickstart": "nnpm.cli.quickstart:quickstart",
    "compose": "nnpm.cli.compose:compose",
    "eval": "nnpm.cli.compose:eval_",
    "modularize": "nnpm.cli.modularize:modularize",
    "train": "nnpm.cli.train:train",
    "decompose": "nnpm.cli.decompose:decompose",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or not self._available(name):
            return None
        module, _, attr = target.partition(":")
        return with_global_options(getattr(importlib.import_module(module), attr))

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(COMMANDS[name].partition(":")[0]) is not None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        if not rows:
            return
        with formatter.section("Commands"):
            formatter.write_dl(rows)


#: One-line help shown by `nnpm --help` without importing every command module.
SHORT_HELP = {
    "init": "Create nnpm.toml in the current directory.",
    "pack": "Hash a package directory's files into its manifest and render its card.",
    "publish": "Publish a packed package directory to a registry.",
    "install": "Install packages (or everything nnpm.toml / nnpm.lock asks for).",
    "uninstall": "Remove an installed package (and drop it from nnpm.toml).",
    "lock": "Resolve nnpm.toml, install what it needs and write nnpm.lock.",
    "verify": "Re-hash every installed file; non-zero exit on any mismatch.",
    "sign": "Sign a packed package directory (OpenSSF model-signing format).",
    "trust": "Name the keys whose signatures are trusted, per namespace.",
    "list": "List installed packages.",
    "search": "Search a registry.",
    "show": "Show a package's manifest, versions and dependencies.",
    "families": "List the architecture families nnpm can build.",
    "registry": "Add, list and remove named registries.",
    "quickstart": "Modularize a small model, publish its modules, install, compose and evaluate, end to end.",
    "compose": "Assemble installed modules into a composite package (no training).",
    "eval": "Recompute a package's accuracy on a dataset and compare it with its claim.",
    "modularize": "Train a modular CNN (MwT) and extract one module package per class.",
    "train": "Train a monolithic model and package it (RNNs: classifier, tagger, translator).",
    "decompose": "Decompose a trained RNN model package into per-class or per-language modules.",
}


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nnpm")
def cli() -> None:
    """nnpm: publish, install, resolve and compose neural-network modules.

    -q and --offline work before or after the command (`nnpm -q install x`, `nnpm install x -q`).
    With --json, results (and errors) are one JSON document on stdout.

    Exit codes: 0 success, 1 error, 2 bad usage, 3 integrity failure (a hash differs),
    4 not found, 5 unresolvable requirements.
    """


with_global_options(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning any error into one line on stderr (and, with --json, an
    {"error": ...} object on stdout) and its documented exit code."""
    os.environ.setdefault("NNPM_HUB_TIMEOUT", "30")  # a hung Hub must not hang the CLI
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(args)
    try:
        cli.main(args=args, prog_name="nnpm", standalone_mode=False)
    except NnpmError as exc:
        print_error(exc.to_dict(), as_json=as_json)
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # plain `nnpm`: the help, as click prints it
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        error = click_error(exc)
        print_error(error, as_json=as_json)
        sys.exit(error["exit_code"])
    except click.exceptions.Abort:
        _interrupted("aborted", as_json)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted("interrupted", as_json)


def _interrupted(what: str, as_json: bool) -> None:
    if as_json:
        import json

        error = {"type": "Interrupted", "message": what, "where": None, "hint": None, "exit_code": 130}
        click.echo(json.dumps({"error": error}))
    click.echo(f"nnpm: {what}", err=True)
    sys.exit(130)
