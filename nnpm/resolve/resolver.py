"""Dependency resolution with resolvelib, the resolver pip uses.

resolvelib knows nothing about nnpm: `RegistryProvider` teaches it what a
requirement and a candidate are, by asking the configured registries. Registries are
asked in order (the primary first) and lazily, so a dependency that the primary
registry holds never touches another one, and one it lacks may come from another
("dependencies may cross registries"). A dependency pinned to a digest (a [dependencies]
entry's `sha256`, carried in `VersionInfo.pins`) only matches that exact build, which any
registry may supply, so another build of it is rejected while resolving, before anything is
downloaded. A conflict is explained from resolvelib's structured causes, naming who asked
for what.

Scale (issue 15): each registry is asked for a name's versions once per resolution (the
provider's cache); the names a resolution can reach are read first (`RegistryProvider.closure`:
the reads resolving makes anyway, plus names only unpicked versions need), which sizes
resolvelib's round limit from the problem instead of a constant, and finds its independent parts;
and a conflict-free problem whose names form no cycle is solved without resolvelib, in one pass
in dependency order (nnpm/resolve/fast.py), because resolvelib rescans every open requirement
each round, which is quadratic when thousands of packages are resolved at once. Anything else
(a conflict, backtracking, a cycle) goes to resolvelib with pip's preference order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter

from packaging.version import Version

from nnpm.errors import PackageNotFoundError, ResolutionError
from nnpm.package.naming import PackageName, Requirement
from nnpm.progress import NULL, Progress
from nnpm.registry.base import Registry, VersionInfo
from nnpm.registry.search import did_you_mean

#: rounds resolvelib may spend backtracking, beyond the problem's size
BACKTRACK_ROUNDS = 2000


@dataclass(frozen=True)
class PinnedRequirement(Requirement):
    """A requirement as the resolver sees it: optionally pinned to one build's manifest digest."""

    sha256: str | None = None

    def matches(self, candidate: Candidate) -> bool:
        """The candidate's version fits the specifier and, when pinned, it is exactly that build."""
        return self.allows(candidate.version, prereleases=True) and self.sha256 in (None, candidate.sha256)

    def __str__(self) -> str:
        pin = f" with sha256 {_short(self.sha256)}" if self.sha256 else ""
        return f"{super().__str__()}{pin}"


def _short(digest: str) -> str:
    return f"{digest[:12]}..."


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

    @property
    def sha256(self) -> str:
        return self.info.sha256

    def dependencies(self) -> list[PinnedRequirement]:
        where = f"{self.name}=={self.version}: dependencies"
        found = []
        for name, spec in sorted(self.info.dependencies.items()):
            req = Requirement.of(name, spec, where=where)
            found.append(PinnedRequirement(req.name, req.specifier, self.info.pins.get(name)))
        return found

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class Resolution:
    """The resolved set: each package's candidate and the names it depends on."""

    candidates: Mapping[PackageName, Candidate]
    edges: Mapping[PackageName, tuple[PackageName, ...]]

    def in_order(self) -> list[Candidate]:
        """Dependencies before dependents, so that installs never leave a package without its needs.

        The order is deterministic (names sorted within each round of ready packages); a
        dependency cycle, which no install order can satisfy, raises ResolutionError naming it.
        """
        graph = TopologicalSorter({name: self.edges.get(name, ()) for name in sorted(self.candidates)})
        try:
            graph.prepare()
        except CycleError as exc:
            raise ResolutionError(
                f"dependency cycle: {self._describe_cycle(exc.args[1])}",
                hint="a package cannot depend on itself, directly or through others: "
                "publish a version of one of them without that dependency",
            ) from None
        order: list[PackageName] = []
        while graph.is_active():
            ready = sorted(graph.get_ready())
            order.extend(ready)
            graph.done(*ready)
        return [self.candidates[n] for n in order]

    def _describe_cycle(self, cycle: Sequence[PackageName]) -> str:
        """`a/x==1.0.0 -> a/y==1.0.0 -> a/x==1.0.0`, each arrow reading "depends on", smallest name first."""
        names = list(reversed(cycle[1:]))  # graphlib lists each node before the ones that need it
        start = names.index(min(names))
        names = names[start:] + names[:start]
        return " -> ".join(f"{n}=={self.candidates[n].version}" for n in [*names, names[0]])


class RegistryProvider:
    """resolvelib provider over nnpm registries, with optional preferred (locked) versions."""

    def __init__(
        self,
        registries: Sequence[Registry],
        *,
        prereleases: bool = False,
        preferred: Mapping[PackageName, Version] | None = None,
        reporter: Progress | None = None,
    ) -> None:
        self.registries = list(registries)
        self.prereleases = prereleases
        self.preferred = dict(preferred or {})
        self.reporter = reporter or NULL
        self._cache: dict[tuple[PackageName, int], list[Candidate]] = {}
        #: name -> the order it was asked for in (the user's requirements), for get_preference
        self.requested: dict[PackageName, int] = {}

    # -- what resolvelib calls ------------------------------------------------------------------

    def identify(self, requirement_or_candidate) -> PackageName:
        return requirement_or_candidate.name

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        """pip's order, smallest first: pinned (`==`, or a sha256) and then the user's own requirements
        before the rest, then fewest candidates (conflicts surface early, backtracking stays short),
        then upper-bounded ones, the order the user gave, constrained before free, and the name."""
        reqs = [info.requirement for info in information[identifier]]
        operators = [(spec.operator, spec.version) for r in reqs for spec in r.specifier]
        pinned = any(getattr(r, "sha256", None) for r in reqs) or any(
            op in ("==", "===") and "*" not in version for op, version in operators
        )
        upper = any(op in ("<", "<=", "~=") or (op == "==" and "*" in version) for op, version in operators)
        direct = any(info.parent is None for info in information[identifier])
        count = sum(1 for _ in candidates[identifier])
        order = self.requested.get(identifier, math.inf)
        return (not pinned, not direct, count, not upper, order, not operators, str(identifier))

    def narrow_requirement_selection(
        self, identifiers, resolutions, candidates, information, backtrack_causes
    ):
        """pip's narrowing: while backtracking, the names of the conflict first (found in one linear pass,
        where get_preference would need one pass per name)."""
        causes = {cause.requirement.name for cause in backtrack_causes} | {
            cause.parent.name for cause in backtrack_causes if cause.parent is not None
        }
        return [name for name in identifiers if name in causes] or identifiers

    def find_matches(
        self,
        identifier: PackageName,
        requirements: Mapping[PackageName, Iterator[PinnedRequirement]],
        incompatibilities: Mapping[PackageName, Iterator[Candidate]],
    ) -> list[Candidate]:
        """The first registry holding `identifier` supplies its versions; when a requirement pins a
        digest that registry lacks, the later registries are asked for exactly that build."""
        bad = {(c.version, c.sha256) for c in incompatibilities[identifier]}
        return self.matches_for(identifier, list(requirements[identifier]), bad)

    def matches_for(
        self, identifier: PackageName, reqs: list[PinnedRequirement], bad: set = frozenset()
    ) -> list[Candidate]:
        """The candidates of `identifier` meeting every requirement in `reqs`, most preferred first."""
        pre = self.prereleases or any(r.specifier.prereleases for r in reqs)
        pinned = any(r.sha256 for r in reqs)
        matches: list[Candidate] = []
        for published in self._by_registry(identifier):
            matches = [
                c
                for c in published
                if (c.version, c.sha256) not in bad
                and not c.info.yanked
                and all(r.allows(c.version, prereleases=pre) and r.matches(c) for r in reqs)
                and (pre or not c.version.is_prerelease)
            ]
            if matches or not pinned:
                break
        preferred = self.preferred.get(identifier)
        return sorted(matches, key=lambda c: (c.version == preferred, c.version), reverse=True)

    def is_satisfied_by(self, requirement: PinnedRequirement, candidate: Candidate) -> bool:
        return requirement.matches(candidate)

    def get_dependencies(self, candidate: Candidate) -> list[PinnedRequirement]:
        return candidate.dependencies()

    # -- registry access --------------------------------------------------------------------------

    def _published(self, name: PackageName, index: int) -> list[Candidate]:
        """Every version of `name` in the index-th registry, asking it once and only when needed."""
        key = (name, index)
        if key not in self._cache:
            registry = self.registries[index]
            self.reporter.note("looking up", package=str(name), registry=registry.name)
            self._cache[key] = [Candidate(info, registry) for info in registry.versions(name)]
        return self._cache[key]

    def _by_registry(self, name: PackageName) -> Iterator[list[Candidate]]:
        """Each registry's versions of `name`, in order, skipping registries that have none."""
        for index in range(len(self.registries)):
            if published := self._published(name, index):
                yield published

    def candidates(self, name: PackageName) -> list[Candidate]:
        """Every version of `name` from the first registry that has any."""
        return next(self._by_registry(name), [])

    def closure(self, names: Iterable[PackageName]) -> tuple[dict[PackageName, set[PackageName]], int]:
        """Every name reachable from `names` through any published version's dependencies, with the
        names each depends on, and how many versions they have in all: the problem's size. The
        reads are those resolving makes anyway (each name once, cached), plus any name that only
        versions which are not picked depend on."""
        graph: dict[PackageName, set[PackageName]] = {}
        versions = 0
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in graph:
                continue
            found = self.candidates(name)
            versions += len(found)
            graph[name] = {dep.name for c in found for dep in c.dependencies()}
            todo.extend(dep for dep in graph[name] if dep not in graph)
        return graph, versions

    def seen(self, name: PackageName) -> list[Candidate]:
        """Every candidate for `name` looked at so far, from every registry asked."""
        return [c for (n, _), found in self._cache.items() if n == name for c in found]


def resolve(
    requirements: Iterable[Requirement],
    registries: Sequence[Registry],
    *,
    prereleases: bool = False,
    preferred: Mapping[PackageName, Version] | None = None,
    reporter: Progress | None = None,
    fast: bool = True,
) -> Resolution:
    """Pick one version of every package needed, or raise ResolutionError saying why not.

    A dependency cycle among the picked versions is refused here too, before anything is installed.
    `fast=False` always uses resolvelib, on the whole problem (the tests compare both answers).
    """
    requirements = [PinnedRequirement(r.name, r.specifier, getattr(r, "sha256", None)) for r in requirements]
    provider = RegistryProvider(registries, prereleases=prereleases, preferred=preferred, reporter=reporter)
    for req in requirements:
        if not provider.candidates(req.name):
            names = ", ".join(r.name for r in registries)
            raise PackageNotFoundError(
                f"package {req.name} is not in any registry ({names})",
                hint=did_you_mean(str(req.name), registries),
            )
    provider.requested = {req.name: i for i, req in reversed(list(enumerate(requirements)))}
    from nnpm.resolve.fast import components, solve_in_order

    graph, _ = provider.closure(req.name for req in requirements)
    candidates: dict[PackageName, Candidate] = {}
    edges: dict[PackageName, tuple[PackageName, ...]] = {}
    # names that share no dependency, however indirect, are separate problems: a conflict in one
    # leaves the others to the fast pass, and resolvelib only sees the part that needs it
    for group in components(graph, requirements) if fast else [requirements]:
        found = solve_in_order(provider, group, graph) if fast else None
        picked, links = found if found is not None else _backtrack(provider, group, graph)
        candidates.update(picked)
        edges.update(links)
    resolution = Resolution(candidates, edges)
    resolution.in_order()  # raises on a cycle
    return resolution


def _backtrack(provider: RegistryProvider, requirements: list[PinnedRequirement], graph) -> tuple[dict, dict]:
    """resolvelib on `requirements`, with a round limit sized from the names they can reach."""
    import resolvelib

    reach, todo = set(), [req.name for req in requirements]
    while todo:
        name = todo.pop()
        if name not in reach:
            reach.add(name)
            todo.extend(graph.get(name, ()))
    versions = sum(len(provider.candidates(name)) for name in reach)
    # One round pins one name; without a conflict a name is re-pinned at most once per version it
    # has, so no conflict-free problem reaches the limit; the rest is room for backtracking.
    max_rounds = versions + len(reach) + BACKTRACK_ROUNDS
    try:
        result = resolvelib.Resolver(provider, resolvelib.BaseReporter()).resolve(
            requirements, max_rounds=max_rounds
        )
    except resolvelib.ResolutionImpossible as exc:
        pinned = any(getattr(c.requirement, "sha256", None) for c in exc.causes)
        hint = (
            "a pinned dependency must be exactly the build it was made with: add the registry that "
            "holds that build (`nnpm registry add`), or pick a version of its dependent made with a published one"
            if pinned
            else None
        )
        raise ResolutionError(explain_conflict(exc.causes, provider), hint=hint) from None
    except resolvelib.ResolutionTooDeep:
        raise ResolutionError(
            f"resolution gave up after {max_rounds} rounds of backtracking "
            f"({len(reach)} packages, {versions} versions)",
            hint="the requirements conflict in too many ways to search: pin some of them (name==version)",
        ) from None
    edges = {
        name: tuple(sorted(child for child in result.graph.iter_children(name) if child is not None))
        for name in result.mapping
    }
    return dict(result.mapping), edges


def explain_conflict(causes, provider: RegistryProvider) -> str:
    """`cannot resolve X: A 1.0 needs X==1.0; B 2.0 needs X>=2` (or `you asked for ...`).

    When a requirement pins a digest, the published builds are listed with their digests and
    registries, so that the pin can be compared with what the registries hold.
    """
    by_name: dict[PackageName, list[str]] = {}
    pinned: set[PackageName] = set()
    for cause in causes:
        req, parent = cause.requirement, cause.parent
        who = f"{parent.name} {parent.version} needs" if parent is not None else "you asked for"
        by_name.setdefault(req.name, []).append(f"{who} {req}")
        if getattr(req, "sha256", None):
            pinned.add(req.name)
    parts = []
    for name, asks in by_name.items():
        if name in pinned:
            found = provider.seen(name)
            available = ", ".join(
                f"{c.version} sha256 {_short(c.sha256)} in {c.registry.name}" for c in found
            )
        else:
            available = ", ".join(str(c.version) for c in provider.candidates(name))
        parts.append(
            f"cannot resolve {name}: {'; '.join(dict.fromkeys(asks))} (published: {available or 'none'})"
        )
    return "; ".join(parts)
