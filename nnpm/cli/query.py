"""`nnpm list`, `search`, `show` and `families`: read-only commands that never import torch."""

from __future__ import annotations

import click

from nnpm.cli.output import emit_json, info, json_option
from nnpm.cli.package import registry_option


def printable(text: object) -> str:
    """`text` with control and format characters escaped (`\\x1b`, `\\u202e`), so that a package's
    description cannot move the cursor, retitle the terminal or reverse the line it is printed on.
    Only what the CLI prints goes through here; --json output stays exact."""
    import unicodedata

    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _UNPRINTABLE else ch
        for ch in str(text)
    )


#: Unicode categories escaped when printed: controls, format characters (bidi overrides), separators.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _echo(line: str) -> None:
    click.echo(printable(line))


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    rows = [tuple(printable(c) for c in row) for row in rows]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@click.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List installed packages, and warn about install records that cannot be read."""
    from nnpm.store.store import Store  # not nnpm.api: `nnpm list` must start fast

    store = Store()
    packages, corrupt = store.installed(), store.corrupt_records()
    if as_json:
        emit_json({
            "packages": [{"package": str(p.name), "version": str(p.version), "sha256": p.sha256,
                          "registry": p.registry, "revision": p.revision, "path": str(p.path)} for p in packages],
            "corrupt": [{"package": c.package, "problem": c.what, "path": c.path and str(c.path)} for c in corrupt],
        })  # fmt: skip
        return
    if packages:
        _table([(str(p.name), str(p.version), p.registry, p.sha256[:12]) for p in packages],
               ("package", "version", "registry", "sha256"))  # fmt: skip
    else:
        info("no packages installed")
    for record in corrupt:
        click.echo(f"nnpm: warning: {record.package}: {record.what} (hint: reinstall it with "
                   f"`nnpm install --force '{record.package}'`, or remove it with `nnpm uninstall`)", err=True)  # fmt: skip


@click.command()
@click.argument("query", required=False, default="")
@registry_option
@json_option
def search(query: str, registry: str | None, as_json: bool) -> None:
    """Search a registry by name, description and classes (every word must match)."""
    from nnpm import api

    found = api.search(query, registry=registry)
    for broken in found.broken:
        click.echo(f"nnpm: warning: {printable(broken.warning())} (hint: tell the package's publisher; "
                   "install an older version by its number)", err=True)  # fmt: skip
    if as_json:
        emit_json([{"package": str(i.name), "version": str(i.version), "kind": i.kind, "description": i.description,
                    "classes": list(i.classes), "sha256": i.sha256} for i in found])  # fmt: skip
    elif found:
        _table([(str(i.name), str(i.version), i.kind, i.description[:60]) for i in found],
               ("package", "latest", "kind", "description"))  # fmt: skip
    else:
        info(f"no package matches {printable(repr(query))}")


@click.command()
@click.argument("spec")
@registry_option
@json_option
def show(spec: str, registry: str | None, as_json: bool) -> None:
    """Show a package (`ns/name`, `ns/name==1.0.0`, or a package directory `./dir`): manifest,
    versions, dependencies. A directory's own manifest is shown; no registry is asked."""
    from nnpm import api

    details = api.show(spec, registry=registry)
    m = details.manifest
    if as_json:
        emit_json({"registry": details.registry, "directory": details.directory and str(details.directory),
                   "versions": [str(v.version) for v in details.versions],
                   "installed": [str(v) for v in details.installed], "sha256": m.digest(),
                   "forward": details.forward, "manifest": m.to_dict()})  # fmt: skip
        return
    where = f"in directory {details.directory}" if details.directory else f"from registry {details.registry}"
    _echo(f"{m.name} {m.version} ({m.kind}) {where}")
    if m.description:
        _echo(f"  {m.description}")
    if details.versions:
        _echo(f"  versions: {', '.join(str(v.version) for v in details.versions)}")
    if details.installed:
        _echo(f"  installed: {', '.join(str(v) for v in details.installed)}")
    if m.source.model:
        _echo(f"  source model: {m.source.model}=={m.source.version}")
    if m.source.classes:
        _echo(f"  classes: {', '.join(m.source.classes)}")
    if m.architecture:
        _echo(f"  architecture: {m.architecture.family}, input {list(m.architecture.input.shape)}")
    forward = details.forward
    if forward is not None:
        _echo(f"  forward: {_FORWARD[forward['mode']].format(**forward)}")
        _echo(f"  rule: {forward['rule']} ({_RULES.get(forward['rule'], 'unknown to this nnpm')})")
    if m.metrics.retained is not None and m.metrics.total:
        _echo(f"  retained {m.metrics.unit}: {m.metrics.retained}/{m.metrics.total}")
    share, params = m.metrics.extra.get("parameter_share"), m.metrics.extra.get("parameters")
    if isinstance(share, float) and isinstance(params, int):
        _echo(f"  size: {params:,} parameters, {share:.1%} of the source model's")
    confusers = m.metrics.extra.get("confusers")
    if isinstance(confusers, list) and confusers:
        _echo(f"  negative evidence: also keeps the units of {', '.join(map(str, confusers))}")
    mass = m.provenance.get("activation_mass")
    if isinstance(mass, float):
        _echo(
            f"  trimmed: keeps the conv channels carrying {mass:.0%} of its class's activation (--mass {mass:g})"
        )
    if m.metrics.accuracy:
        a = m.metrics.accuracy
        _echo(f"  {a.metric}: {a.value:.4f} on {a.dataset} {a.split}")
    if m.source.data:
        d = m.source.data
        counts = " / ".join(f"{k} {s.count:,}" for k, s in d.splits.items())
        _echo(f"  data: {d.name} ({d.format}), sha256 {d.sha256[:12]}; {counts}")
    for dep in m.dependencies:
        _echo(
            f"  depends on {dep.name}{dep.specifier}" + (f" (sha256 {dep.sha256[:12]})" if dep.sha256 else "")
        )
    for rel, entry in m.files.items():
        _echo(f"  file {rel}: {entry.size} bytes, sha256 {entry.sha256[:12]}")


#: `PackageDetails.forward` in words.
_FORWARD = {
    "routed": "each request routed to the module serving its language ({modules} modules)",
    "fused": "one fused pass over the union of kernels of {fused_source} when it is installed, "
    "else the {modules} modules batched",
    "batched": "the {modules} modules batched (they share no source model)",
}

#: `PackageDetails.forward["rule"]` in words.
_RULES = {
    "argmax-calibrated": "argmax over the modules' calibrated class scores",
    "union-restricted": "the source model pruned to the union of the modules' units, its logits restricted "
    "to these classes; needs the source model",
    "route-by-language": "no comparison: each language has one module",
}


@click.command()
@json_option
def families(as_json: bool) -> None:
    """List the architecture families nnpm can build from a manifest."""
    from nnpm.package.families import families as registered

    found = registered()
    if as_json:
        emit_json({name: f.description for name, f in found.items()})
    else:
        _table([(name, f.description) for name, f in found.items()], ("family", "description"))
