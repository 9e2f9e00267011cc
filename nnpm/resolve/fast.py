"""A conflict-free resolution in one pass, in dependency order: linear where resolvelib is quadratic.

resolvelib rescans every open requirement (and copies its whole state) each round, one round
per pinned package, so resolving thousands of packages at once costs the square of their
number. Most problems have no conflict at all, and for those one pass suffices: visit the
names in topological order of the name graph (every package before the packages it may
depend on, through any of its versions), so that by the time a name is visited every
requirement on it is known, and give each the provider's most preferred candidate meeting them
all (the locked version while it fits, else the newest; pins and pre-release rules as the
provider applies them). Each name is then what resolvelib would pin it to once nothing
conflicts: the most preferred candidate that fits the requirements of the picked set.

It gives up (None, and resolvelib decides) on anything it cannot settle in that one pass: a
name graph with a cycle, or a name no candidate fits, that is every conflict and every problem
needing backtracking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING

from nnpm.package.naming import PackageName

if TYPE_CHECKING:
    from nnpm.resolve.resolver import Candidate, PinnedRequirement, RegistryProvider


def solve_in_order(
    provider: RegistryProvider,
    requirements: Sequence[PinnedRequirement],
    graph: Mapping[PackageName, set[PackageName]],
) -> tuple[dict[PackageName, Candidate], dict[PackageName, tuple[PackageName, ...]]] | None:
    """(candidates, edges) for `requirements`, or None when one pass in order cannot settle them."""
    # graphlib orders each node after its predecessors: a name's dependencies are listed as the
    # nodes that must come *after* it, so give it the reverse graph (dependents first)
    reach, todo = set(), [req.name for req in requirements]
    while todo:  # only the names these requirements can reach: one part of the graph, not all of it
        name = todo.pop()
        if name not in reach:
            reach.add(name)
            todo.extend(graph.get(name, ()))
    dependents: dict[PackageName, set[PackageName]] = {name: set() for name in reach}
    for name in reach:
        for dep in graph.get(name, ()):
            dependents[dep].add(name)
    try:
        order = list(TopologicalSorter(dependents).static_order())
    except CycleError:
        return None
    asked: dict[PackageName, list[PinnedRequirement]] = {}
    for req in requirements:
        asked.setdefault(req.name, []).append(req)
    picked: dict[PackageName, Candidate] = {}
    edges: dict[PackageName, tuple[PackageName, ...]] = {}
    for name in order:
        reqs = asked.get(name)
        if not reqs:
            continue  # nothing picked so far needs it
        found = provider.matches_for(name, reqs)
        if not found:
            return None  # a conflict: resolvelib backtracks, or explains it
        picked[name] = candidate = found[0]
        deps = candidate.dependencies()
        for dep in deps:
            asked.setdefault(dep.name, []).append(dep)
        edges[name] = tuple(sorted({dep.name for dep in deps}))
    if asked.keys() - picked.keys():
        return None  # a build from a later registry needs a name the graph did not have
    return picked, edges


def components(
    graph: Mapping[PackageName, set[PackageName]], requirements: Sequence[PinnedRequirement]
) -> list[list[PinnedRequirement]]:
    """`requirements` grouped by the connected parts of the name graph their names fall in (the
    graph taken undirected): groups share no name, so each can be resolved on its own."""
    parent: dict[PackageName, PackageName] = {name: name for name in graph}

    def root(name: PackageName) -> PackageName:
        while parent.setdefault(name, name) != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for name, deps in graph.items():
        for dep in deps:
            parent[root(dep)] = root(name)
    groups: dict[PackageName, list[PinnedRequirement]] = {}
    for req in requirements:
        groups.setdefault(root(req.name), []).append(req)
    return list(groups.values())
