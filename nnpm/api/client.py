"""`nnpm.Client`: the store, the registries and the project one program works with.

In the spirit of huggingface_hub's `HfApi`: a client holds its settings (home, default
registry, offline), opens its store and registries once, and every user-level job is a
method. The module-level functions of `nnpm` are bound to a default client that follows
the environment (NNPM_HOME, NNPM_REGISTRY, NNPM_OFFLINE); tests and embedders build their
own, with registries of their own, and need no environment variable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nnpm.api import publishing, science
from nnpm.api.details import PackageDetails
from nnpm.api.paths import composite_folder, folders_near, is_path_spec, package_folder
from nnpm.config import Settings
from nnpm.errors import IntegrityError, PackageNotFoundError, UsageError, VersionNotFoundError
from nnpm.package import validated
from nnpm.package.manifest import MANIFEST_NAME, Manifest, sha256_bytes
from nnpm.package.naming import Requirement
from nnpm.package.signing import SigningKey
from nnpm.progress import NULL, Progress
from nnpm.registry import config as registry_config
from nnpm.registry.base import PublishResult, Registry
from nnpm.registry.search import did_you_mean
from nnpm.registry.unreadable import SearchResults
from nnpm.resolve.lock import Lock, read_lock
from nnpm.resolve.project import Project, find_project
from nnpm.store.store import InstalledPackage, Problem, Store

if TYPE_CHECKING:
    import torch

    from nnpm.api.installing import InstallResult
    from nnpm.composition.evaluate import EvalResult
    from nnpm.composition.workflow import ComposeReport
    from nnpm.nn.loader import Loader, PackageRef


def _remembering(method: Callable) -> Callable:
    """The method reads registry indexes, manifests and install records remembering which exact
    bytes passed their schema, under the client's home (nnpm.package.validated): unchanged ones
    are not validated again, so a command that reads only those never imports jsonschema."""

    @functools.wraps(method)
    def remembering(self: Client, *args, **kwargs):
        with validated.remembered_in(self.settings.validated_dir):
            return method(self, *args, **kwargs)

    return remembering


class Client:
    """One nnpm installation: its store, its registries and (optionally) a project.

    home: nnpm's folder (default $NNPM_HOME or ~/.nnpm); registries: Registry objects to use
    besides (or instead of) the configured ones of the same name; registry: the default
    registry's name; offline: never touch the network; project: True finds nnpm.toml from the
    current directory at each call, a Project or a directory uses that one, None or False none.
    """

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        registries: Mapping[str, Registry] | Sequence[Registry] | None = None,
        registry: str | None = None,
        offline: bool | None = None,
        project: Project | Path | str | bool | None = True,
    ) -> None:
        self._home = Path(home) if home is not None else None
        if isinstance(registries, Mapping):
            self._registries = dict(registries)
        else:
            self._registries = {r.name: r for r in registries or ()}
        self._registry = registry or next(iter(self._registries), None)
        self._opened: dict[tuple[Settings, registry_config.RegistryConfig], Registry] = {}
        self._offline = offline
        self._project = project
        self._store: Store | None = None

    def __repr__(self) -> str:
        return f"Client(home={str(self.settings.home)!r}, registry={self.default_registry!r})"

    # --- what the client holds -----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """Explicit arguments first, then the environment (read now, so a default client follows it)."""
        return Settings.from_env(home=self._home, registry=self._registry, offline=self._offline)

    @property
    def store(self) -> Store:
        settings = self.settings
        if self._store is None or self._store.root != settings.store_dir:
            self._store = Store(settings.store_dir, lock_timeout=settings.lock_timeout)
        return self._store

    @property
    def default_registry(self) -> str:
        return registry_config.default_name(self.settings)

    def registry(self, name: str | None = None) -> Registry:
        """An opened registry by name (default: the client's default registry)."""
        settings = self.settings
        name = name or registry_config.default_name(settings)
        if name in self._registries:
            return self._registries[name]
        key = (settings, registry_config.get_config(name, settings))
        if key not in self._opened:  # reopened when the environment or config.toml changes it
            self._opened[key] = registry_config.open_registry(name, settings)
        return self._opened[key]

    def registries(self, primary: str | None = None) -> list[Registry]:
        """The primary registry first, then every other one (dependencies may cross registries)."""
        first = self.registry(primary)
        names = [*self._registries, *registry_config.registries(self.settings)]
        return [first, *(self.registry(n) for n in dict.fromkeys(names) if n != first.name)]

    def project(self, override: Project | Path | str | bool | None = None) -> Project | None:
        """The project a call works in: `override` when given (False: none), else the client's."""
        chosen = self._project if override is None else override
        if chosen is True:
            return find_project()
        if not chosen:
            return None
        if isinstance(chosen, Project):
            return chosen
        found = find_project(Path(chosen))
        if found is None:
            raise UsageError(
                f"no nnpm.toml with a [project] table at or above {chosen}", hint="run `nnpm init` there"
            )
        return found

    # --- publishing and querying ---------------------------------------------------------------

    def publish(self, directory: Path | str, *, registry: str | None = None) -> PublishResult:
        """Check a packed package directory and publish it; identical content again is a no-op."""
        from nnpm.package.pack import check_package

        manifest = check_package(Path(directory), hashes=False)  # each registry hashes what it sends
        return self.registry(registry).publish(Path(directory), manifest)

    def publish_all(
        self, directories: Sequence[Path | str], *, registry: str | None = None
    ) -> list[PublishResult]:
        """Publish several directories, each after the ones among them it depends on: all or nothing.

        Every package is checked first (files, weights, names, and no version that the registry
        already holds with another digest), so a set that cannot be published publishes nothing.
        A failure half way (a full disk, the network) leaves the packages before it published: the
        same call again completes the set, and those come back with `created=False`."""
        return publishing.publish_all(self, [Path(d) for d in directories], registry)

    def pack(self, directory: Path | str, *, hub_namespace: str | None = None) -> Manifest:
        """Render the card, hash every file into the manifest and check the weights.

        A name and version already installed, or published to a local registry, with another
        digest is refused before anything is written: bump the version (docs/package-format.md)."""
        return publishing.pack(self, Path(directory), hub_namespace)

    @_remembering
    def search(self, query: str = "", *, registry: str | None = None) -> SearchResults:
        """The latest version of each matching package; `.broken` names the tags the search could
        not read (a package none of whose tags reads is among them, not among the hits)."""
        reg = self.registry(registry)
        hits = reg.search(query)
        return SearchResults(hits, tuple(getattr(reg, "broken", ())))  # registries that skip keep `broken`

    @_remembering
    def show(self, spec: str | Path, *, registry: str | None = None) -> PackageDetails:
        """Versions of a package and the manifest of the newest one matching `spec`; for a package
        directory written as a path (`./dir`), the manifest of that directory (no registry)."""
        if is_path_spec(spec):
            if registry is not None:
                raise UsageError(f"{spec} is a directory: a registry does not apply", hint="drop --registry")
            directory = package_folder(spec)
            manifest = Manifest.read(directory / MANIFEST_NAME)
            installed = tuple(p.version for p in self.store.installed() if p.name == manifest.name)
            return PackageDetails(None, (), manifest, installed, directory)
        req = Requirement.parse(spec)
        reg = self.registry(registry)
        versions = reg.versions(req.name)
        if not versions:
            raise PackageNotFoundError(
                f"package {req.name} is not in registry {reg.name}", hint=did_you_mean(str(req.name), [reg])
            )
        matching = [v for v in versions if req.allows(v.version, prereleases=True)]
        if not matching:
            published = ", ".join(str(v.version) for v in versions)
            raise VersionNotFoundError(
                f"no version of {req.name} matches {req.specifier} (published: {published})"
            )
        chosen = matching[-1]
        data, where = reg.fetch_manifest(chosen), f"{chosen.name}=={chosen.version} from registry {reg.name}"
        if sha256_bytes(data) != chosen.sha256:  # shown is as trusted as installed: the index names its bytes
            raise IntegrityError(
                f"manifest sha256 mismatch: expected {chosen.sha256}, found {sha256_bytes(data)}",
                where=where,
                hint="the registry's copy changed after it was published: tell its publisher (nothing is installed from it)",
            )
        manifest = Manifest.from_toml(data.decode("utf-8"), where=where)
        installed = tuple(p.version for p in self.store.installed() if p.name == req.name)
        return PackageDetails(reg.name, tuple(versions), manifest, installed)

    @_remembering
    def list_installed(self) -> list[InstalledPackage]:
        return self.store.installed()

    @_remembering
    def verify(self, *, signatures: bool = False) -> list[Problem]:
        """Every mismatch between installed bytes and their manifests ([] when all is well); with
        `signatures`, also every package the trust policy requires a signature of and that lacks
        a valid one by a trusted key."""
        problems = self.store.verify()
        if signatures:
            with self.store.reading():
                from nnpm.api import signing  # the trust policy: only where signatures are asked for

                problems += signing.verify_signatures(self)
        return problems

    def sign(self, directory: Path | str, key: SigningKey) -> Path:
        """Sign a packed package directory (writes nnpm.sig beside its files; docs/signing.md)."""
        from nnpm.api import signing

        return signing.sign(Path(directory), key)

    # --- installing ----------------------------------------------------------------------------

    @_remembering
    def install(
        self,
        requirements: Sequence[str] = (),
        *,
        registry: str | None = None,
        frozen: bool = False,
        force: bool = False,
        prereleases: bool = False,
        reporter: Progress | None = None,
        project: Project | Path | bool | None = None,
    ) -> InstallResult:
        """Install packages and record them in the project, like `npm install`.

        With requirements: resolve them together with the project's, install, add them to
        nnpm.toml and rewrite nnpm.lock. Without: install exactly what nnpm.lock says (no
        registry is touched for packages the store already holds), or resolve nnpm.toml
        when the lock is missing or stale (`frozen` refuses that instead). `project=False`
        installs without recording anything in a project.
        """
        from nnpm.api import installing  # the resolver and the lock: not for show or search

        return installing.install(
            self, requirements, registry=registry, frozen=frozen, force=force, prereleases=prereleases,
            reporter=reporter or NULL, project=self.project(project),
        )  # fmt: skip

    @_remembering
    def lock(self, *, registry: str | None = None, prereleases: bool = False,
             reporter: Progress | None = None) -> Lock:  # fmt: skip
        """Resolve the project's nnpm.toml and write nnpm.lock, installing what the lock needs."""
        from nnpm.api import installing  # the resolver and the lock: not for show or search

        return installing.lock(self, registry=registry, prereleases=prereleases, reporter=reporter or NULL)

    @_remembering
    def uninstall(
        self, names: Sequence[str], *, project: Project | Path | bool | None = None
    ) -> list[InstalledPackage]:
        """Remove packages from the store, and from nnpm.toml / nnpm.lock when in a project."""
        from nnpm.api import installing  # the resolver and the lock: not for show or search

        return installing.uninstall(self, names, self.project(project))

    @_remembering
    def resolve_installed(
        self, spec: str, *, project: Project | Path | bool | None = None
    ) -> InstalledPackage:
        """The installed package `spec` names: the locked version in a project, else the newest match."""
        req = Requirement.parse(spec)
        proj = self.project(project)
        lock = read_lock(proj.lock_file) if proj else None
        locked = lock.get(req.name) if lock else None
        if locked is not None and req.allows(locked.version, prereleases=True):
            pkg = self.store.get(locked.name, locked.version)
            if pkg is not None and pkg.sha256 == locked.sha256:
                return pkg
        return self.store.find(req)

    # --- using ---------------------------------------------------------------------------------

    @_remembering
    def locate(self, spec: str | Path, *, project: Project | Path | bool | None = None) -> PackageRef:
        """An installed package by name, or a package directory written as a path (`./dir`)."""
        from nnpm.nn.loader import PackageRef

        if is_path_spec(spec):
            return PackageRef(package_folder(spec))
        pkg = self.resolve_installed(str(spec), project=project)
        return PackageRef(pkg.path, pkg.sha256)

    def loader(self, near: Sequence[Path] = ()) -> Loader:
        """The one loader, finding dependencies in the folders `near` and then in the store."""
        from nnpm.nn.loader import DirectorySource, Loader, Sources, StoreSource

        return Loader(Sources(DirectorySource(near), StoreSource(self.store)))

    @_remembering
    def load(self, spec: str | Path, *, project: Project | Path | bool | None = None) -> torch.nn.Module:
        """A ready torch module for an installed package (or a `./directory`), with `.manifest`.

        Inside a project the locked version wins; otherwise the newest installed version
        that satisfies `spec`. Every file is re-hashed before anything is read.
        """
        ref = self.locate(spec, project=project)
        return self.loader(folders_near([spec])).load(ref)

    @_remembering
    def compose(self, *specs: str | Path, replace: Mapping[str, str] | None = None,
                project: Project | Path | bool | None = None) -> torch.nn.Module:  # fmt: skip
        """A classifier (or translator) assembled from modules, without training; it has `.classes`.

        `replace` maps a class (or language) to another module for it."""
        from nnpm.composition.assemble import compose

        def locate(spec: str) -> PackageRef:
            return self.locate(spec, project=project)

        near = folders_near([*specs, *(replace or {}).values()])
        return compose([str(s) for s in specs], locate, self.loader(near), replace=replace)

    @_remembering
    def compose_package(
        self,
        modules: Sequence[str],
        *,
        name: str,
        out: Path | str | None = None,
        version: str = "1.0.0",
        replace: Mapping[str, str] | None = None,
        dataset: str | None = None,
        data_dir: Path | None = None,
        finetune: bool = False,
        epochs: int = 50,
        seed: int = 0,
    ) -> ComposeReport:
        """compose -> (fine-tune on `dataset`) -> evaluate -> write the composite package to `out`.

        `out` is a folder, by default one named after the package in the current directory
        (`mine/footwear` -> ./footwear); a folder that holds anything but an earlier build of
        the same package is refused before any work is done."""
        from nnpm.composition.workflow import compose_package

        out = composite_folder(name, out)

        def make(specs, replacing):
            return self.compose(*specs, replace=replacing)

        return compose_package(
            make, list(modules), name, out, version=version, replace=dict(replace or {}) or None,
            dataset=dataset, data_dir=data_dir, finetune=finetune, epochs=epochs, seed=seed,
        )  # fmt: skip

    modularize = staticmethod(science.modularize)
    decompose = staticmethod(science.decompose)

    @_remembering
    def evaluate(self, spec: str | Path, *, dataset: str | None = None, data_dir: Path | None = None,
                 split: str = "test", project: Project | Path | bool | None = None) -> EvalResult:  # fmt: skip
        """Measure a package (installed or a `./directory`) on a dataset, beside its claim."""
        from nnpm.composition.workflow import data_for, evaluate_on

        net = self.load(spec, project=project)
        return evaluate_on(net, data_for(net, dataset, data_dir), split)
