"""Dependency cycles and digest pins: both refused while resolving, before anything is downloaded."""

import pytest

from nnpm import api
from nnpm.cli import main
from nnpm.errors import ResolutionError
from nnpm.registry import sparse_index
from nnpm.registry.config import add_registry
from nnpm.store.store import Store
from tests.factories import make_package, publish


def _store_is_empty(home) -> bool:
    """No package and not one blob: nothing was fetched into the store."""
    store = home / "store"
    return Store().installed() == [] and not [
        p for sub in ("blobs", "packages") for p in (store / sub).rglob("*") if p.is_file()
    ]


# --- cycles --------------------------------------------------------------------------------------


def test_a_dependency_cycle_is_one_resolution_error_naming_the_cycle(tmp_path, nnpm_home):
    publish(tmp_path, "a/x", "1.0.0", deps={"a/y": "==1.0.0"})
    publish(tmp_path, "a/y", "1.0.0", deps={"a/x": "==1.0.0"}, seed=1)
    with pytest.raises(ResolutionError) as err:
        api.install(["a/x"], project=False)
    assert err.value.what == "dependency cycle: a/x==1.0.0 -> a/y==1.0.0 -> a/x==1.0.0"
    assert err.value.exit_code == 5 and "cannot depend on itself" in err.value.hint
    assert _store_is_empty(nnpm_home)


def test_a_longer_cycle_below_a_package_is_named_from_its_smallest_member(tmp_path):
    publish(tmp_path, "a/app", "1.0.0", deps={"a/z": ">=1"})
    publish(tmp_path, "a/x", "1.0.0", deps={"a/y": ">=1"}, seed=1)
    publish(tmp_path, "a/y", "2.0.0", deps={"a/z": ">=1"}, seed=2)
    publish(tmp_path, "a/z", "1.0.0", deps={"a/x": ">=1"}, seed=3)
    with pytest.raises(ResolutionError) as err:
        api.install(["a/app"], project=False)
    assert err.value.what == "dependency cycle: a/x==1.0.0 -> a/y==2.0.0 -> a/z==1.0.0 -> a/x==1.0.0"


def test_a_package_that_depends_on_itself_is_a_cycle(tmp_path):
    publish(tmp_path, "a/self", "1.0.0", deps={"a/self": ">=1"})
    with pytest.raises(ResolutionError, match=r"dependency cycle: a/self==1\.0\.0 -> a/self==1\.0\.0"):
        api.install(["a/self"], project=False)


def test_nnpm_install_of_a_cycle_exits_5_with_one_line(tmp_path, workdir, capsys, nnpm_home):
    publish(tmp_path, "a/x", "1.0.0", deps={"a/y": "==1.0.0"})
    publish(tmp_path, "a/y", "1.0.0", deps={"a/x": "==1.0.0"}, seed=1)
    with pytest.raises(SystemExit) as exit_:
        main(["install", "a/x"])
    _, err = capsys.readouterr()
    assert exit_.value.code == 5
    assert err.count("\n") == 1 and err.startswith("nnpm: error: ")
    assert "dependency cycle: a/x==1.0.0 -> a/y==1.0.0 -> a/x==1.0.0 (hint: " in err
    assert _store_is_empty(nnpm_home) and not (workdir / "nnpm.lock").exists()


def test_dependencies_are_installed_before_their_dependents(tmp_path):
    publish(tmp_path, "a/base", "1.0.0")
    publish(tmp_path, "a/mid", "1.0.0", deps={"a/base": ">=1"}, seed=1)
    publish(tmp_path, "a/top", "1.0.0", deps={"a/mid": ">=1", "a/base": ">=1"}, seed=2)
    publish(tmp_path, "a/side", "1.0.0", seed=3)
    result = api.install(["a/top", "a/side"], project=False)
    order = [str(p.name) for p in result.packages]
    assert sorted(order) == ["a/base", "a/mid", "a/side", "a/top"]
    assert order.index("a/base") < order.index("a/mid") < order.index("a/top")


# --- digest pins ---------------------------------------------------------------------------------


@pytest.fixture
def two_builds(tmp_path):
    """base/embedding 1.0.0 as two different builds: one in the registry `team`, one in `local`
    (asked first). Returns (team digest, local digest)."""
    add_registry("team", str(tmp_path / "team"))
    team = api.publish(make_package(tmp_path / "t", "base/embedding", "1.0.0", seed=1), registry="team")
    local = api.publish(make_package(tmp_path / "l", "base/embedding", "1.0.0", seed=2))
    assert team.sha256 != local.sha256
    return team.sha256, local.sha256


def test_a_pinned_dependency_resolves_to_the_registry_that_holds_that_build(tmp_path, two_builds, nnpm_home):
    team_digest, local_digest = two_builds
    publish(
        tmp_path,
        "app/module",
        "1.0.0",
        deps={"base/embedding": "==1.0.0"},
        pins={"base/embedding": team_digest},
    )
    result = api.install(["app/module"], project=False)
    got = {str(p.name): (p.registry, p.sha256) for p in result.packages}
    assert got["base/embedding"] == ("team", team_digest)
    assert api.verify() == []
    # the other build was never downloaded: the store holds only the blobs of what was installed
    wanted = {e.sha256 for p in result.packages for e in p.manifest.files.values()}
    blobs = {p.name for p in (nnpm_home / "store" / "blobs").rglob("*") if p.is_file()}
    assert blobs == wanted


def test_a_pin_no_registry_can_satisfy_fails_before_anything_is_downloaded(tmp_path, two_builds, nnpm_home):
    team_digest, local_digest = two_builds
    publish(
        tmp_path,
        "app/module",
        "1.0.0",
        deps={"base/embedding": "==1.0.0"},
        pins={"base/embedding": "ab" * 32},
    )
    with pytest.raises(ResolutionError) as err:
        api.install(["app/module"], project=False)
    line = err.value.one_line()
    assert (
        "cannot resolve base/embedding: app/module 1.0.0 needs base/embedding==1.0.0 with sha256 abababababab..."
        in line
    )
    assert f"1.0.0 sha256 {local_digest[:12]}... in local" in line
    assert f"1.0.0 sha256 {team_digest[:12]}... in team" in line
    assert "pinned dependency" in err.value.hint
    assert _store_is_empty(nnpm_home)


def test_a_pin_steers_backtracking_to_an_older_version(tmp_path, nnpm_home):
    old = publish(tmp_path, "base/embedding", "1.0.0", seed=1)
    publish(tmp_path, "base/embedding", "2.0.0", seed=2)
    publish(
        tmp_path, "app/module", "1.0.0", deps={"base/embedding": ">=1"}, pins={"base/embedding": old.sha256}
    )
    result = api.install(["app/module"], project=False)
    assert {str(p.name): str(p.version) for p in result.packages} == {
        "app/module": "1.0.0",
        "base/embedding": "1.0.0",
    }
    assert {str(p.version) for p in Store().installed() if str(p.name) == "base/embedding"} == {"1.0.0"}


def test_two_dependents_pinning_different_builds_conflict(tmp_path, two_builds, nnpm_home):
    team_digest, local_digest = two_builds
    publish(
        tmp_path, "app/a", "1.0.0", deps={"base/embedding": "==1.0.0"}, pins={"base/embedding": team_digest}
    )
    publish(
        tmp_path,
        "app/b",
        "1.0.0",
        deps={"base/embedding": "==1.0.0"},
        pins={"base/embedding": local_digest},
        seed=5,
    )
    with pytest.raises(ResolutionError) as err:
        api.install(["app/a", "app/b"], project=False)
    line = err.value.one_line()
    assert f"app/a 1.0.0 needs base/embedding==1.0.0 with sha256 {team_digest[:12]}..." in line
    assert f"app/b 1.0.0 needs base/embedding==1.0.0 with sha256 {local_digest[:12]}..." in line
    assert _store_is_empty(nnpm_home)


def test_an_index_without_pins_is_still_caught_after_install(tmp_path, two_builds, nnpm_home):
    """Indexes written before pins were recorded lack them: the installed manifests still carry them."""
    team_digest, _ = two_builds
    publish(
        tmp_path,
        "app/module",
        "1.0.0",
        deps={"base/embedding": "==1.0.0"},
        pins={"base/embedding": team_digest},
    )
    for registry in (nnpm_home / "registry", tmp_path / "team"):
        for name in sparse_index.package_names(registry):  # rewritten as an index without pins
            rows = sparse_index.read_package(registry, name)
            pinless = {v: {k: x for k, x in r.items() if k != "pins"} for v, r in rows.items()}
            sparse_index.write_package(registry, name, pinless)
    with pytest.raises(ResolutionError, match="app/module 1.0.0 needs base/embedding with sha256"):
        api.install(["app/module"], project=False)
