"""The library API: what the CLI calls and what users import.

Each function does one user-level job (publish, install, uninstall, lock, verify,
search, show, list, load) by combining the package format, the registries, the
resolver and the store. None of them prints: progress goes to a reporter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from nnpm.errors import (
    IntegrityError,
    NnpmError,
    PackageNotFoundError,
    ResolutionError,
    StaleLockError,
    VersionNotFoundError,
)
from nnpm.package.manifest import Manifest
from nnpm.package.naming import PackageName, Requirement
from nnpm.registry import config as registry_config
from nnpm.registry.base import PublishResult, VersionInfo
from nnpm.resolve.lock import Lock, LockedPackage, canonical_requires, read_lock, write_lock
from nnpm.resolve.project import Project, find_project, set_requirements
from nnpm.resolve.resolver import Resolution, ResolveReporter, resolve
from nnpm.store.store import InstalledPackage, InstallReporter, Problem, Store

if TYPE_CHECKING:
    import torch


class Reporter(ResolveReporter, InstallReporter):
    """Progress hooks for a whole install; subclass it to draw progress bars."""


@dataclass(frozen=True)
class InstallResult:
    packages: tuple[InstalledPackage, ...]
    project: Project | None
    lock: Lock | None


@dataclass(frozen=True)
class PackageDetails:
    """What `show` knows: every published version and one version's manifest."""

    registry: str
    versions: tuple[VersionInfo, ...]
    manifest: Manifest
    installed: tuple[Version, ...]


# --- publishing ----------------------------------------------------------------------------------


def publish(directory: Path | str, *, registry: str | None = None) -> PublishResult:
    """Check a packed package directory and publish it; identical content again is a no-op."""
    from nnpm.package.pack import check_package

    manifest = check_package(Path(directory))
    return registry_config.open_registry(registry).publish(Path(directory), manifest)


# --- querying ------------------------------------------------------------------------------------


def search(query: str = "", *, registry: str | None = None) -> list[VersionInfo]:
    return registry_config.open_registry(registry).search(query)


def show(spec: str, *, registry: str | None = None) -> PackageDetails:
    """Versions of a package and the manifest of the newest one matching `spec`."""
    req = Requirement.parse(spec)
    reg = registry_config.open_registry(registry)
    versions = reg.versions(req.name)
    if not versions:
        raise PackageNotFoundError(f"package {req.name} is not in registry {reg.name}")
    matching = [v for v in versions if req.allows(v.version, prereleases=True)]
    if not matching:
        published = ", ".join(str(v.version) for v in versions)
        raise VersionNotFoundError(
            f"no version of {req.name} matches {req.specifier} (published: {published})"
        )
    chosen = matching[-1]
    manifest = Manifest.from_toml(
        reg.fetch_manifest(chosen).decode("utf-8"), where=f"{chosen.name}=={chosen.version}"
    )
    installed = tuple(p.version for p in Store().installed() if p.name == req.name)
    return PackageDetails(reg.name, tuple(versions), manifest, installed)


def list_installed() -> list[InstalledPackage]:
    return Store().installed()


def verify() -> list[Problem]:
    """Every mismatch between installed bytes and their manifests ([] when all is well)."""
    return Store().verify()


# --- installing ----------------------------------------------------------------------------------


def install(
    requirements: Sequence[str] = (),
    *,
    registry: str | None = None,
    project: Project | None | bool = True,
    frozen: bool = False,
    force: bool = False,
    prereleases: bool = False,
    reporter: Reporter | None = None,
) -> InstallResult:
    """Install packages and record them in the project, like `npm install`.

    With requirements: resolve them together with the project's, install, add them to
    nnpm.toml and rewrite nnpm.lock. Without: install exactly what nnpm.lock says (no
    registry is touched for packages the store already holds), or resolve nnpm.toml
    when the lock is missing or stale (`frozen` refuses that instead).
    """
    reqs, registry = _parse_requirements(requirements, registry)
    proj = find_project() if project is True else (project or None)
    store = Store()
    reporter = reporter or Reporter()
    with store.locked():
        if not reqs:
            return _install_project(proj, store, registry, frozen, force, prereleases, reporter)
        if frozen:
            raise StaleLockError("--frozen installs only what nnpm.lock says; it cannot add packages")
        return _install_requirements(reqs, proj, store, registry, force, prereleases, reporter)


def _parse_requirements(texts: Sequence[str], registry: str | None) -> tuple[list[Requirement], str | None]:
    """Plain requirements, and `hf://<namespace>/<repo>[@version]`, which also selects (or adds)
    the registry for that Hub namespace so that the lock names a registry it can reopen."""
    reqs = []
    for text in texts:
        if text.startswith("hf://"):
            from nnpm.registry.hub import parse_hub_requirement

            namespace, req = parse_hub_requirement(text)
            registry = registry or registry_config.registry_for_url(f"hf://{namespace}").name
            reqs.append(req)
        else:
            reqs.append(Requirement.parse(text))
    return reqs, registry


def _install_project(proj, store, registry, frozen, force, prereleases, reporter) -> InstallResult:
    if proj is None:
        raise NnpmError(
            "nothing to install: no package named and no nnpm.toml with a [project] table here or above",
            hint="run `nnpm install NAME`, or `nnpm init` to start a project",
        )
    lock = read_lock(proj.lock_file)
    if lock is not None and lock.is_fresh_for(proj.requirements):
        return InstallResult(tuple(_install_locked(lock, store, force, reporter)), proj, lock)
    if frozen:
        state = "missing" if lock is None else "stale (nnpm.toml changed since it was written)"
        raise StaleLockError(f"nnpm.lock is {state}", where=str(proj.lock_file))
    resolution = _resolve(
        proj.requirements, lock, registry or proj.registry, prereleases or proj.prereleases, reporter
    )
    installed = _install_resolution(resolution, store, force, reporter)
    lock = _lock_from(resolution, installed, proj.requirements)
    write_lock(proj.lock_file, lock)
    return InstallResult(tuple(installed), proj, lock)


def _install_requirements(reqs, proj, store, registry, force, prereleases, reporter) -> InstallResult:
    named = {r.name for r in reqs}
    existing = [r for r in proj.requirements if r.name not in named] if proj else []
    lock = read_lock(proj.lock_file) if proj else None
    registry = registry or (proj.registry if proj else None)
    pre = prereleases or bool(proj and proj.prereleases)
    resolution = _resolve([*existing, *reqs], lock, registry, pre, reporter, upgrade=named)
    installed = _install_resolution(resolution, store, force, reporter)
    if proj is None:
        return InstallResult(tuple(installed), None, None)
    recorded = [
        r if r.specifier else Requirement.of(str(r.name), f">={resolution.candidates[r.name].version}")
        for r in reqs
    ]
    proj = set_requirements(proj, add=recorded)
    lock = _lock_from(resolution, installed, proj.requirements)
    write_lock(proj.lock_file, lock)
    return InstallResult(tuple(installed), proj, lock)


def _resolve(
    requirements, lock: Lock | None, registry, prereleases, reporter, upgrade=frozenset()
) -> Resolution:
    """Resolve, keeping locked versions where they still fit, except for packages named on the command line."""
    preferred = {p.name: p.version for p in lock.packages if p.name not in upgrade} if lock else {}
    registries = registry_config.open_registries(registry)
    return resolve(requirements, registries, prereleases=prereleases, preferred=preferred, reporter=reporter)


def _install_resolution(
    resolution: Resolution, store: Store, force: bool, reporter
) -> list[InstalledPackage]:
    installed = [
        store.install(c.info, c.registry, force=force, reporter=reporter) for c in resolution.in_order()
    ]
    _check_digest_pins(installed, resolution)
    return installed


def _check_digest_pins(installed: list[InstalledPackage], resolution: Resolution) -> None:
    """A dependency pinned by sha256 (an RNN module on its embedding) must be exactly that build."""
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


def _install_locked(lock: Lock, store: Store, force: bool, reporter) -> list[InstalledPackage]:
    """Install exactly the locked digests; the store's copies are reused without any registry."""
    installed = []
    for locked in lock.packages:
        current = store.get(locked.name, locked.version)
        if current is None or current.sha256 != locked.sha256 or force:
            info = VersionInfo(locked.name, locked.version, locked.sha256, kind="", revision=locked.revision)
            current = store.install(
                info, registry_config.open_registry(locked.registry), force=force, reporter=reporter
            )
        if dict(current.manifest.files) != locked.files:
            raise IntegrityError(
                f"{locked.name}=={locked.version}: files differ from nnpm.lock", where=str(current.path)
            )
        installed.append(current)
    return installed


def lock(*, registry: str | None = None, prereleases: bool = False, reporter: Reporter | None = None) -> Lock:
    """Resolve the project's nnpm.toml and write nnpm.lock, installing what the lock needs."""
    proj = find_project()
    if proj is None:
        raise NnpmError("no nnpm.toml with a [project] table here or above", hint="run `nnpm init` first")
    previous = read_lock(proj.lock_file)
    reporter = reporter or Reporter()
    store = Store()
    with store.locked():
        resolution = _resolve(proj.requirements, previous, registry or proj.registry, prereleases, reporter)
        installed = _install_resolution(resolution, store, False, reporter)
        new = _lock_from(resolution, installed, proj.requirements)
        write_lock(proj.lock_file, new)
    return new


def uninstall(names: Sequence[str], *, project: Project | None | bool = True) -> list[InstalledPackage]:
    """Remove packages from the store, and from nnpm.toml / nnpm.lock when in a project."""
    parsed = [PackageName.parse(n) for n in names]
    proj = find_project() if project is True else (project or None)
    store = Store()
    removed: list[InstalledPackage] = []
    with store.locked():
        for name in parsed:
            gone = store.uninstall(name)
            in_project = proj is not None and any(r.name == name for r in proj.requirements)
            if not gone and not in_project:
                raise PackageNotFoundError(
                    f"{name} is not installed", hint="`nnpm list` shows what is installed"
                )
            removed.extend(gone)
        if proj is not None:
            proj = set_requirements(proj, remove=parsed)
            old = read_lock(proj.lock_file)
            if old is not None:
                write_lock(proj.lock_file, old.without(parsed, proj.requirements))
    return removed


# --- using ---------------------------------------------------------------------------------------


def load(spec: str | Path, *, project: Project | None | bool = True) -> torch.nn.Module:
    """A ready torch module for an installed package (or a package directory), with `.manifest`.

    Inside a project the locked version wins; otherwise the newest installed version
    that satisfies `spec`. Every file is re-hashed before anything is read.
    """
    from nnpm.nn.loader import load_directory, load_installed

    path = Path(spec)
    if path.is_dir() and (path / "nnpm.toml").is_file():
        return load_directory(path)
    return load_installed(resolve_installed(str(spec), project=project))


def resolve_installed(spec: str, *, project: Project | None | bool = True) -> InstalledPackage:
    """The installed package `spec` names: the locked version in a project, else the newest match."""
    req = Requirement.parse(spec)
    proj = find_project() if project is True else (project or None)
    store = Store()
    lock_ = read_lock(proj.lock_file) if proj else None
    locked = lock_.get(req.name) if lock_ else None
    if locked is not None and req.allows(locked.version, prereleases=True):
        pkg = store.get(locked.name, locked.version)
        if pkg is not None and pkg.sha256 == locked.sha256:
            return pkg
    return store.find(req)
