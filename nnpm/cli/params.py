"""Checking what the user typed while it is parsed: a bad value, or an option that cannot apply, is bad
usage (exit 2, one line) and is never silently ignored. Validators come from the library; none of
these imports torch unless the command it belongs to does anyway."""

from __future__ import annotations

import click
from click.core import ParameterSource

from nnpm.errors import UsageError


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user set parameter `name` (on the command line or through its environment variable)."""
    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def flag(ctx: click.Context, name: str) -> str:
    """How parameter `name` is written on the command line (`--data-dir`)."""
    param = next(p for p in ctx.command.params if p.name == name)
    return max(param.opts, key=len)


def refuse(ctx: click.Context, name: str, reason: str, *, hint: str | None = None) -> None:
    """Exit 2 with one line when `name` was given but cannot apply."""
    if given(ctx, name):
        option = flag(ctx, name)
        raise UsageError(f"{option} {reason}", where=ctx.command_path, hint=hint or f"drop {option}")


def package_name(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A `namespace/name` option, checked now rather than after minutes of work."""
    from nnpm.package.naming import PackageName

    if value is not None:
        PackageName.parse(value, where=max(param.opts, key=len))
    return value


def namespace(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from nnpm.package.naming import validate_part

    if value is not None:
        validate_part(value, what=f"{max(param.opts, key=len)} namespace")
    return value


def version(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from nnpm.package.naming import parse_version

    if value is not None:
        parse_version(value, where=max(param.opts, key=len))
    return value


def _choice(value: str | None, known: tuple[str, ...], option: str) -> str | None:
    if value is not None and value not in known:
        raise UsageError(f"unknown dataset {value!r} (known: {', '.join(known)})", where=option,
                         hint="see `--help` for the datasets and docs/cli.md for where to get them")  # fmt: skip
    return value


def image_dataset(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from nnpm.datasets.images import NAMES

    return _choice(value, NAMES, max(param.opts, key=len))


def text_dataset(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from nnpm.datasets.text_loaders import TEXT_DATASETS

    return _choice(value, TEXT_DATASETS, max(param.opts, key=len))


def any_dataset(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from nnpm.datasets.images import NAMES
    from nnpm.datasets.text_loaders import TEXT_DATASETS

    return _choice(value, (*NAMES, *TEXT_DATASETS), max(param.opts, key=len))


def replacements(_ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]) -> dict[str, str]:
    """`--replace CLASS=MODULE` (repeatable) -> {CLASS: MODULE}; MODULE is a package name with an optional
    version range, or a package directory written as a path (`./dir`)."""
    from nnpm.api.paths import is_path_spec
    from nnpm.package.naming import Requirement

    out: dict[str, str] = {}
    for item in items:
        cls, sep, spec = item.partition("=")
        if not sep or not cls or not spec:
            raise UsageError(f"{item!r} is not CLASS=MODULE", where="--replace",
                             hint="e.g. --replace bag=other/bag-module or --replace bag=./bag-module")  # fmt: skip
        if cls in out:
            raise UsageError(f"class {cls!r} is replaced twice", where="--replace", hint="replace it once")
        if not is_path_spec(spec):
            Requirement.parse(spec, where="--replace")
        out[cls] = spec
    return out
