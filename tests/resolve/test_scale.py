"""Resolution at scale (issue 15): each name read once, no round limit a conflict-free problem can
reach, the fast pass and resolvelib agree, and backtracking and conflicts still work among thousands."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from resolvelib.structs import RequirementInformation

from nnpm.errors import ResolutionError
from nnpm.package.naming import PackageName, Requirement
from nnpm.registry.local import LocalRegistry
from nnpm.resolve import resolver
from nnpm.resolve.resolver import PinnedRequirement, RegistryProvider, resolve
from tests.resolve import generated


class CountingRegistry(LocalRegistry):
    """A local registry that counts how often each name's versions are read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads: dict[str, int] = {}

    def versions(self, name):
        self.reads[str(name)] = self.reads.get(str(name), 0) + 1
        return super().versions(name)


def _all(registry) -> list[Requirement]:
    return [Requirement.parse(name) for name in registry.package_names()]


def _picked(resolution) -> dict[str, str]:
    return {str(name): str(c.version) for name, c in resolution.candidates.items()}


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """3,000 generated packages (and the three of the conflict), shared by the tests that read them."""
    return generated.generate(tmp_path_factory.mktemp("big") / "registry", 3000)


@pytest.fixture
def small(tmp_path):
    return generated.generate(tmp_path / "registry", 200)


def test_resolving_3000_packages_at_once_completes(big):
    result = resolve(_all(big), [big])
    picked = _picked(result)
    assert len(picked) == len(big.package_names()) == 3003
    assert picked["ns0/p0-3"] == "2.0.0" and picked["ns0/p0-4"] == "1.0.0"  # 5 2.0.0 wants 4<2
    assert picked["conflict/bag-module"] == "1.0.0" and picked["conflict/embedding"] == "1.0.0"  # backtracked
    order = [str(c.name) for c in result.in_order()]
    assert order.index("ns0/p0-0") < order.index("ns0/p0-1") < order.index("ns0/p0-3")


@pytest.mark.parametrize("fast", [True, False])
def test_each_name_is_read_once_per_registry(tmp_path, fast):
    generated.generate(tmp_path / "registry", 100)
    counting = CountingRegistry("local", str(tmp_path / "registry"))
    resolve(_all(counting), [counting], fast=fast)
    assert counting.reads and set(counting.reads.values()) == {1}
    assert set(counting.reads) == set(counting.package_names())


def test_a_second_registry_is_asked_once_and_only_for_what_the_first_lacks(tmp_path):
    generated.write(tmp_path / "first", {"app/top": {"1.0.0": {"base/embedding": ">=1"}}})
    generated.write(tmp_path / "second", {"base/embedding": {"1.0.0": {}}})
    first = CountingRegistry("first", str(tmp_path / "first"))
    second = CountingRegistry("second", str(tmp_path / "second"))
    result = resolve([Requirement.parse("app/top")], [first, second])
    assert {str(n): c.registry.name for n, c in result.candidates.items()} == {
        "app/top": "first",
        "base/embedding": "second",
    }
    assert first.reads == {"app/top": 1, "base/embedding": 1} and second.reads == {"base/embedding": 1}


def test_the_fast_pass_and_resolvelib_pick_the_same_versions(small):
    requirements = _all(small)
    assert _picked(resolve(requirements, [small])) == _picked(resolve(requirements, [small], fast=False))
    some = [Requirement.parse("ns1/p1-9"), Requirement.parse("ns2/p2-5<2"), Requirement.parse("ns3/p3-3")]
    assert _picked(resolve(some, [small])) == _picked(resolve(some, [small], fast=False))
    preferred = {
        PackageName.parse("ns1/p1-8"): resolve(some, [small])
        .candidates[PackageName.parse("ns1/p1-0")]
        .version
    }
    assert _picked(resolve(some, [small], preferred=preferred)) == _picked(
        resolve(some, [small], preferred=preferred, fast=False)
    )


def test_the_round_limit_grows_with_the_problem(small, monkeypatch):
    """Before, 2,000 rounds were the limit whatever the size: now no backtracking room at all is
    needed for a conflict-free problem, because the limit counts its packages and versions."""
    monkeypatch.setattr(resolver, "BACKTRACK_ROUNDS", 0)
    without_conflict = [r for r in _all(small) if not str(r.name).startswith("conflict/")]
    assert len(resolve(without_conflict, [small], fast=False).candidates) == 200


def test_an_unsatisfiable_conflict_among_thousands_is_reported_clearly(big):
    requirements = [*_all(big), Requirement.parse("conflict/bag-module>=2")]
    with pytest.raises(ResolutionError) as err:
        resolve(requirements, [big])
    line = err.value.one_line()
    assert "cannot resolve conflict/embedding:" in line
    assert "conflict/bag-module 2.0.0 needs conflict/embedding>=2" in line
    assert "conflict/boot-module 1.0.0 needs conflict/embedding==1.0.0" in line
    assert "ns0/" not in line  # the thousands of packages uninvolved are not in the explanation


def _info(spec: str, parent=None):
    name, _, specifier = spec.partition(" ")
    sha = "a" * 64 if specifier == "pinned-by-digest" else None
    specifier = "" if sha else specifier
    return RequirementInformation(
        PinnedRequirement(PackageName.parse(name), SpecifierSet(specifier), sha), parent
    )


def test_the_preference_order_is_pips(tmp_path):
    """Pinned first, then what the user asked for, then fewest candidates, then upper bounds."""
    provider = RegistryProvider([])
    parent = object()
    cases = {
        "t/pinned-dep": ([_info("t/pinned-dep ==1.0", parent)], 5),
        "t/digest-dep": ([_info("t/digest-dep pinned-by-digest", parent)], 5),
        "t/direct-many": ([_info("t/direct-many >=1")], 9),
        "t/dep-one": ([_info("t/dep-one >=1", parent)], 1),
        "t/dep-three": ([_info("t/dep-three >=1", parent)], 3),
        "t/dep-three-capped": ([_info("t/dep-three-capped <2", parent)], 3),
    }
    names = {PackageName.parse(n): v for n, v in cases.items()}
    information = {n: info for n, (info, _) in names.items()}
    candidates = {n: range(count) for n, (_, count) in names.items()}

    def key(name):
        return provider.get_preference(name, {}, _Iter(candidates), _Iter(information), [])

    order = [str(n) for n in sorted(names, key=key)]
    assert order == [
        "t/pinned-dep",  # ties with the digest pin on everything but being constrained by an operator
        "t/digest-dep",
        "t/direct-many",
        "t/dep-one",
        "t/dep-three-capped",
        "t/dep-three",
    ]


class _Iter(dict):
    """resolvelib hands the provider mappings of iterators."""

    def __getitem__(self, key):
        return iter(super().__getitem__(key))
