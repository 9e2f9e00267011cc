"""Dependency resolution with resolvelib, the resolver pip uses.

resolvelib knows nothing about nnpm: `RegistryProvider` teaches it what a
requirement and a candidate are, by asking the configured registries. Registries are
asked in order (the primary first) and lazily, so a dependency that the primary
registry holds never touches another one, and one it lacks may come from another
("dependencies may cross registries"). A conflict is explained from resolvelib's
structured causes, naming who asked for what.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.version import Version

from nnpm.errors import PackageNotFoundError, ResolutionError
from nnpm.package.naming import PackageName, Requirement
from nnpm.registry.base import Registry, VersionInfo


@dataclass(frozen=True)
class Candidate:
    """One published version, from one registry."""

    info: VersionInfo
    registry: Registry = field(compare=False)

    @property
    def name(self) -> PackageName:
        return self.info.name

    @property
    def version(self) -> Version:
        return self.info.version

    def dependencies(self) -> list[Requirement]:
        where = f"{self.name}=={self.version}: dependencies"
        return [
            Requirement.of(name, spec, where=where) for name, spec in sorted(self.info.dependencies.items())
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class Resolution:
    """The resolved set: each package's candidate and the names it depends on."""

    candidates: Mapping[PackageName, Candidate]
    edges: Mapping[PackageName, tuple[PackageName, ...]]

    def in_order(self) -> list[Candidate]:
        """Dependencies before dependents, so that installs never leave a package without its needs."""
        seen: dict[PackageName, None] = {}

        def visit(name: PackageName) -> None:
            if name in seen:
                return
            for dep in self.edges.get(name, ()):
                visit(dep)
            seen[name] = None

        for name in sorted(self.candidates):
            visit(name)
        return [self.candidates[n] for n in seen]


class ResolveReporter:
    """Hooks for progress while resolving (no-ops by default)."""

    def looking_up(self, name: PackageName, registry: Registry) -> None: ...


class RegistryProvider:
    """resolvelib provider over nnpm registries, with optional preferred (locked) versions."""

    def __init__(
        self,
        registries: Sequence[Registry],
        *,
        prereleases: bool = False,
        preferred: Mapping[PackageName, Version] | None = None,
        reporter: ResolveReporter | None = None,
    ) -> None:
        self.registries = list(registries)
        self.prereleases = prereleases
        self.preferred = dict(preferred or {})
        self.reporter = reporter or ResolveReporter()
        self._cache: dict[PackageName, list[Candidate]] = {}

    # -- what resolvelib calls ------------------------------------------------------------------

    def identify(self, requirement_or_candidate) -> PackageName:
        return requirement_or_candidate.name

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        # Resolve the most constrained names first: fewer candidates means earlier conflicts.
        return sum(1 for _ in candidates[identifier])

    def narrow_requirement_selection(
        self, identifiers, resolutions, candidates, information, backtrack_causes
    ):
        return identifiers

    def find_matches(
        self,
        identifier: PackageName,
        requirements: Mapping[PackageName, Iterator[Requirement]],
        incompatibilities: Mapping[PackageName, Iterator[Candidate]],
    ) -> list[Candidate]:
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        pre = self.prereleases or any(r.specifier.prereleases for r in reqs)
        matches = [
            c
            for c in self.candidates(identifier)
            if c.version not in bad
            and not c.info.yanked
            and all(r.allows(c.version, prereleases=pre) for r in reqs)
        ]
        if not pre:
            matches = [c for c in matches if not c.version.is_prerelease]
        preferred = self.preferred.get(identifier)
        return sorted(matches, key=lambda c: (c.version == preferred, c.version), reverse=True)

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return requirement.allows(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        return candidate.dependencies()

    # -- registry access --------------------------------------------------------------------------

    def candidates(self, name: PackageName) -> list[Candidate]:
        """Every version of `name` from the first registry that has any."""
        if name not in self._cache:
            self._cache[name] = []
            for registry in self.registries:
                self.reporter.looking_up(name, registry)
                versions = registry.versions(name)
                if versions:
                    self._cache[name] = [Candidate(info, registry) for info in versions]
                    break
        return self._cache[name]


def resolve(
    requirements: Iterable[Requirement],
    registries: Sequence[Registry],
    *,
    prereleases: bool = False,
    preferred: Mapping[PackageName, Version] | None = None,
    reporter: ResolveReporter | None = None,
) -> Resolution:
    """Pick one version of every package needed, or raise ResolutionError saying why not."""
    import resolvelib

    requirements = list(requirements)
    provider = RegistryProvider(registries, prereleases=prereleases, preferred=preferred, reporter=reporter)
    for req in requirements:
        if not provider.candidates(req.name):
            names = ", ".join(r.name for r in registries)
            raise PackageNotFoundError(f"package {req.name} is not in any registry ({names})")
    try:
        result = resolvelib.Resolver(provider, resolvelib.BaseReporter()).resolve(
            requirements, max_rounds=2000
        )
    except resolvelib.ResolutionImpossible as exc:
        raise ResolutionError(explain_conflict(exc.causes, provider)) from None
    except resolvelib.ResolutionTooDeep:
        raise ResolutionError("resolution gave up after 2000 rounds of backtracking") from None
    edges = {
        name: tuple(sorted(child for child in result.graph.iter_children(name) if child is not None))
        for name in result.mapping
    }
    return Resolution(dict(result.mapping), edges)


def explain_conflict(causes, provider: RegistryProvider) -> str:
    """`cannot resolve X: A 1.0 needs X==1.0; B 2.0 needs X>=2` (or `you asked for ...`)."""
    by_name: dict[PackageName, list[str]] = {}
    for cause in causes:
        req, parent = cause.requirement, cause.parent
        who = f"{parent.name} {parent.version} needs" if parent is not None else "you asked for"
        by_name.setdefault(req.name, []).append(f"{who} {req}")
    parts = []
    for name, asks in by_name.items():
        available = ", ".join(str(c.version) for c in provider.candidates(name)) or "none"
        parts.append(f"cannot resolve {name}: {'; '.join(dict.fromkeys(asks))} (published: {available})")
    return "; ".join(parts)
