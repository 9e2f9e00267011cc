"""Installing, locking and uninstalling for a `Client`: resolver, lock file and store together.

None of it prints: progress goes to a reporter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from nnpm.api import signing
from nnpm.errors import (
    IntegrityError,
    NnpmError,
    PackageNotFoundError,
    ResolutionError,
    StaleLockError,
    UsageError,
)
from nnpm.fsutil import atomic_write_text
from nnpm.package.files import read_text_file
from nnpm.package.naming import PackageName, Requirement
from nnpm.registry import config as registry_config
from nnpm.registry.base import VersionInfo
from nnpm.resolve.lock import Lock, LockedPackage, canonical_requires, read_lock, write_lock
from nnpm.resolve.project import Project, set_requirements
from nnpm.resolve.resolver import Resolution, resolve
from nnpm.store.store import InstalledPackage


@dataclass(frozen=True)
class InstallResult:
    packages: tuple[InstalledPackage, ...]
    project: Project | None
    lock: Lock | None


# --- installing ----------------------------------------------------------------------------------


def install(client, requirements: Sequence[str], *, registry, frozen, force, prereleases, reporter,
            project: Project | None) -> InstallResult:  # fmt: skip
    reqs, registry = _parse_requirements(client, requirements, registry)
    proj = project
    store = client.store
    with store.locked():
        if not reqs:
            return _install_project(client, proj, registry, frozen, force, prereleases, reporter)
        if frozen:
            raise StaleLockError("--frozen installs only what nnpm.lock says; it cannot add packages")
        return _install_requirements(client, reqs, proj, registry, force, prereleases, reporter)


def _parse_requirements(
    client, texts: Sequence[str], registry: str | None
) -> tuple[list[Requirement], str | None]:
    """Plain requirements, and `hf://<namespace>/<repo>[@version]`, which also selects (or adds)
    the registry for that Hub namespace so that the lock names a registry it can reopen."""
    reqs = []
    for text in texts:
        if text.startswith("hf://"):
            from nnpm.registry.hub import parse_hub_requirement

            namespace, req = parse_hub_requirement(text)
            registry = registry or registry_config.registry_for_url(f"hf://{namespace}", client.settings).name
            reqs.append(req)
        else:
            reqs.append(Requirement.parse(text))
    return reqs, registry


def _install_project(client, proj, registry, frozen, force, prereleases, reporter) -> InstallResult:
    if proj is None:
        raise UsageError(
            "nothing to install: no package named and no nnpm.toml with a [project] table here or above",
            hint="run `nnpm install NAME`, or `nnpm init` to start a project",
        )
    lock = read_lock(proj.lock_file)
    if lock is not None and lock.is_fresh_for(proj.requirements):
        return InstallResult(
            tuple(_install_locked(client, lock, force, reporter, proj.lock_file)), proj, lock
        )
    if frozen:
        state = "missing" if lock is None else "stale (nnpm.toml changed since it was written)"
        raise StaleLockError(f"nnpm.lock is {state}", where=str(proj.lock_file))
    resolution = _resolve(
        client, proj.requirements, lock, registry or proj.registry, prereleases or proj.prereleases, reporter
    )
    installed = _install_resolution(client, resolution, force, reporter, lock)
    lock = _lock_from(resolution, installed, proj.requirements)
    write_lock(proj.lock_file, lock)
    return InstallResult(tuple(installed), proj, lock)


def _install_requirements(client, reqs, proj, registry, force, prereleases, reporter) -> InstallResult:
    reqs, as_written = _project_constraints(reqs, proj)
    named = {r.name for r in reqs}
    existing = [r for r in proj.requirements if r.name not in named] if proj else []
    lock = read_lock(proj.lock_file) if proj else None
    registry = registry or (proj.registry if proj else None)
    pre = prereleases or bool(proj and proj.prereleases)
    resolution = _resolve(client, [*existing, *reqs], lock, registry, pre, reporter, upgrade=named)
    installed = _install_resolution(client, resolution, force, reporter, lock)
    if proj is None:
        return InstallResult(tuple(installed), None, None)
    recorded = [
        r if r.specifier else Requirement.of(str(r.name), f">={resolution.candidates[r.name].version}")
        for r in reqs
        if r.name not in as_written
    ]
    before = read_text_file(proj.file)
    proj = set_requirements(proj, add=recorded)
    lock = _lock_from(resolution, installed, proj.requirements)
    _write_lock_or_restore(proj, lock, before)
    return InstallResult(tuple(installed), proj, lock)


def _write_lock_or_restore(proj: Project, lock: Lock, project_text: str) -> None:
    """Write nnpm.lock after nnpm.toml was changed; if the lock cannot be written (a read-only
    project, a full disk), put nnpm.toml back, so that the two change together or not at all."""
    try:
        write_lock(proj.lock_file, lock)
    except NnpmError:
        with contextlib.suppress(NnpmError):
            atomic_write_text(proj.file, project_text)
        raise


def _project_constraints(reqs: list[Requirement], proj: Project | None):
    """A bare name the project already requires means "that package, as nnpm.toml constrains it".

    So `nnpm install [--force] X` reinstalls X within the user's range (`>=1,<2` still excludes 2.0)
    and leaves nnpm.toml as written, as `npm install` keeps a range that already covers what it
    installs. Returns the requirements to resolve, and the names whose entry must stay untouched.
    """
    required = {r.name: r for r in proj.requirements} if proj else {}
    as_written = {r.name for r in reqs if not r.specifier and r.name in required}
    return [required[r.name] if r.name in as_written else r for r in reqs], as_written


def _resolve(
    client, requirements, lock: Lock | None, registry, prereleases, reporter, upgrade=frozenset()
) -> Resolution:
    """Resolve, keeping locked versions where they still fit, except for packages named on the command line."""
    preferred = {p.name: p.version for p in lock.packages if p.name not in upgrade} if lock else {}
    registries = client.registries(registry)
    return resolve(requirements, registries, prereleases=prereleases, preferred=preferred, reporter=reporter)


def _install_resolution(
    client, resolution: Resolution, force: bool, reporter, lock: Lock | None = None
) -> list[InstalledPackage]:
    if not force:
        _refuse_lock_swaps(resolution, lock)
    installed = [
        client.store.install(c.info, c.registry, force=force, reporter=reporter,
                             check=signing.staged_check(client, c.info.name, c.info.version))
        for c in resolution.in_order()
    ]  # fmt: skip
    _check_digest_pins(installed, resolution)
    return installed


def _refuse_lock_swaps(resolution: Resolution, lock: Lock | None) -> None:
    """A locked name and version keeps its locked digest: a registry that serves the same version with
    other bytes is refused, naming both digests, before anything is fetched (--force replaces it)."""
    for name, cand in resolution.candidates.items():
        locked = lock.get(name) if lock else None
        if locked is not None and locked.version == cand.version and locked.sha256 != cand.info.sha256:
            spec = f"{name}=={cand.version}"
            raise IntegrityError(
                f"{spec} from registry {cand.registry.name} has sha256 {cand.info.sha256}, but nnpm.lock "
                f"pins sha256 {locked.sha256} (registry {locked.registry})",
                where=spec,
                hint=f"a name and version has one digest: install it from registry {locked.registry} "
                f"(--registry {locked.registry}), or pass --force to replace it and rewrite nnpm.lock",
            )


def _check_digest_pins(installed: list[InstalledPackage], resolution: Resolution) -> None:
    """A dependency pinned by sha256 (an RNN module on its embedding) must be exactly that build.

    The resolver already refuses other builds, from the pins the registries list
    (`VersionInfo.pins`), before anything is downloaded. This re-check reads the pins from the
    installed (hash-checked) manifests instead, for registries whose index lacks them: a local
    index written before pins were recorded lists none, and the manifest is what counts.
    """
    for pkg in installed:
        for dep in pkg.manifest.dependencies:
            chosen = resolution.candidates.get(dep.name)
            if dep.sha256 and chosen is not None and chosen.info.sha256 != dep.sha256:
                raise ResolutionError(
                    f"{pkg.name} {pkg.version} needs {dep.name} with sha256 {dep.sha256[:12]}..., "
                    f"but {dep.name} {chosen.version} from registry {chosen.registry.name} has {chosen.info.sha256[:12]}...",
                    hint=f"publish or select the {dep.name} build that {pkg.name} was made with",
                )


def _lock_from(resolution: Resolution, installed: list[InstalledPackage], requirements) -> Lock:
    by_name = {p.name: p for p in installed}
    packages = tuple(
        LockedPackage(
            name=name,
            version=cand.version,
            registry=cand.registry.name,
            sha256=cand.info.sha256,
            files=dict(by_name[name].manifest.files),
            dependencies=resolution.edges.get(name, ()),
            revision=cand.info.revision,
        )
        for name, cand in sorted(resolution.candidates.items())
    )
    return Lock(canonical_requires(requirements), packages)


def _install_locked(client, lock: Lock, force: bool, reporter, lock_file=None) -> list[InstalledPackage]:
    """Install exactly the locked digests; the store's copies are reused without any registry."""
    store = client.store
    installed = []
    for locked in lock.packages:
        current = store.get(locked.name, locked.version)
        if current is not None and current.sha256 != locked.sha256 and not force:
            spec = f"{locked.name}=={locked.version}"
            raise IntegrityError(
                f"nnpm.lock pins {spec} to sha256 {locked.sha256} (registry {locked.registry}), but the "
                f"installed copy (from registry {current.registry}) has sha256 {current.sha256}",
                where=str(lock_file),
                hint="a name and version has one digest in the store: `nnpm install --force` replaces the "
                "installed copy with the locked one (what was built on the other digest then breaks)",
            )
        check = signing.staged_check(client, locked.name, locked.version)
        if current is None or current.sha256 != locked.sha256 or force or store.check(current):
            info = VersionInfo(locked.name, locked.version, locked.sha256, kind="", revision=locked.revision)
            current = store.install(
                info, client.registry(locked.registry), force=force, reporter=reporter, check=check
            )
        elif check is not None:
            check(current.path)  # reused as it is: it must carry the signature the policy asks for
        if dict(current.manifest.files) != locked.files:
            raise IntegrityError(
                f"{locked.name}=={locked.version}: files differ from nnpm.lock", where=str(current.path)
            )
        installed.append(current)
    return installed


def lock(client, *, registry: str | None, prereleases: bool, reporter) -> Lock:
    proj = client.project()
    if proj is None:
        raise NnpmError("no nnpm.toml with a [project] table here or above", hint="run `nnpm init` first")
    previous = read_lock(proj.lock_file)
    store = client.store
    with store.locked():
        resolution = _resolve(
            client, proj.requirements, previous, registry or proj.registry, prereleases, reporter
        )
        installed = _install_resolution(client, resolution, False, reporter, previous)
        new = _lock_from(resolution, installed, proj.requirements)
        write_lock(proj.lock_file, new)
    return new


def dependents_of(
    installed: Sequence[InstalledPackage], names: Sequence[PackageName]
) -> dict[PackageName, list[InstalledPackage]]:
    """For each of `names`, the installed packages whose manifests depend on it: what an uninstall of
    `names` leaves without a dependency (`nnpm uninstall` warns with it, as `pip check` would report).

    A package whose manifest cannot be read is skipped: `nnpm verify` reports it.
    """
    wanted = set(names)
    found: dict[PackageName, list[InstalledPackage]] = {}
    for pkg in installed:
        if pkg.name in wanted:
            continue
        try:
            needs = {d.name for d in pkg.manifest.dependencies}
        except (NnpmError, OSError):
            continue
        for name in sorted(needs & wanted):
            found.setdefault(name, []).append(pkg)
    return found


def uninstall(client, names: Sequence[str], project: Project | None) -> list[InstalledPackage]:
    parsed = [PackageName.parse(n) for n in names]
    proj = project
    store = client.store
    removed: list[InstalledPackage] = []
    with store.locked():
        for name in parsed:
            # a version whose install record is corrupt is not installed, but uninstall clears it away
            broken = [p for p in store.corrupt_records() if p.package.startswith(f"{name}==")]
            gone = store.uninstall(name)
            in_project = proj is not None and any(r.name == name for r in proj.requirements)
            if not gone and not broken and not in_project:
                raise PackageNotFoundError(
                    f"{name} is not installed", hint="`nnpm list` shows what is installed"
                )
            removed.extend(gone)
        if proj is not None:
            before = read_text_file(proj.file)
            proj = set_requirements(proj, remove=parsed)
            old = read_lock(proj.lock_file)
            if old is not None:
                _write_lock_or_restore(proj, old.without(parsed, proj.requirements), before)
    return removed
