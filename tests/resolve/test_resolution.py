import shutil

import pytest

from nnpm import api
from nnpm.errors import ResolutionError, StaleLockError
from nnpm.resolve.lock import read_lock
from nnpm.resolve.project import init_project, read_project
from nnpm.store.store import Store
from tests.factories import make_package, publish


@pytest.fixture
def project(workdir):
    return init_project(workdir)


def test_transitive_dependencies_are_installed_locked_and_recorded(tmp_path, project):
    publish(tmp_path, "fmnist/embedding", "1.0.0")
    publish(tmp_path, "fmnist/embedding", "2.0.0")
    publish(tmp_path, "fmnist/bag-module", "1.0.0", deps={"fmnist/embedding": ">=1,<2"})
    result = api.install(["fmnist/bag-module"])
    assert sorted(p.id if hasattr(p, "id") else f"{p.name}=={p.version}" for p in result.packages) == [
        "fmnist/bag-module==1.0.0",
        "fmnist/embedding==1.0.0",
    ]
    lock = read_lock(project.lock_file)
    assert [str(p.name) for p in lock.packages] == ["fmnist/bag-module", "fmnist/embedding"]
    assert [str(d) for d in lock.get(result.packages[-1].name).dependencies] == ["fmnist/embedding"]
    assert [str(r) for r in read_project(project.root).requirements] == ["fmnist/bag-module>=1.0.0"]


def test_backtracking_finds_the_combination_that_works(tmp_path, project):
    publish(tmp_path, "fmnist/embedding", "1.0.0")
    publish(tmp_path, "fmnist/embedding", "2.0.0")
    publish(tmp_path, "fmnist/bag-module", "1.0.0", deps={"fmnist/embedding": "==1.0.0"})
    publish(tmp_path, "fmnist/bag-module", "2.0.0", deps={"fmnist/embedding": ">=2"})
    publish(tmp_path, "fmnist/boot-module", "1.0.0", deps={"fmnist/embedding": "==1.0.0"})
    result = api.install(["fmnist/bag-module", "fmnist/boot-module"])
    versions = {str(p.name): str(p.version) for p in result.packages}
    assert versions == {
        "fmnist/bag-module": "1.0.0",
        "fmnist/boot-module": "1.0.0",
        "fmnist/embedding": "1.0.0",
    }


def test_a_conflict_names_who_asked_for_what(tmp_path, project):
    publish(tmp_path, "fmnist/embedding", "1.0.0")
    publish(tmp_path, "fmnist/embedding", "2.0.0")
    publish(tmp_path, "fmnist/boot-module", "1.0.0", deps={"fmnist/embedding": "==1.0"})
    publish(tmp_path, "fmnist/bag-module", "2.0.0", deps={"fmnist/embedding": ">=2"})
    before = project.file.read_text()
    with pytest.raises(ResolutionError) as err:
        api.install(["fmnist/boot-module", "fmnist/bag-module"])
    line = err.value.one_line()
    assert "fmnist/boot-module 1.0.0 needs fmnist/embedding==1.0" in line
    assert "fmnist/bag-module 2.0.0 needs fmnist/embedding>=2" in line
    assert project.file.read_text() == before and not project.lock_file.exists()
    assert Store().installed() == []


def test_prereleases_only_when_asked(tmp_path, project):
    publish(tmp_path, "digits/mlp", "1.0.0")
    publish(tmp_path, "digits/mlp", "2.0.0rc1")
    assert str(api.install(["digits/mlp"]).packages[0].version) == "1.0.0"
    assert str(api.install(["digits/mlp"], prereleases=True).packages[0].version) == "2.0.0rc1"


def test_a_sha256_pinned_dependency_must_be_that_exact_build(tmp_path, project):
    publish(tmp_path, "brown/embedding", "1.0.0")
    publish(
        tmp_path,
        "brown/tagger",
        "1.0.0",
        deps={"brown/embedding": "==1.0.0"},
        pins={"brown/embedding": "0" * 64},
    )
    with pytest.raises(ResolutionError) as err:
        api.install(["brown/tagger"])
    line = err.value.one_line()
    assert "brown/tagger 1.0.0 needs brown/embedding==1.0.0 with sha256 000000000000..." in line
    assert Store().installed() == []  # refused while resolving: nothing was installed


def test_install_from_the_lock_needs_no_registry_when_the_store_has_everything(tmp_path, project, nnpm_home):
    publish(tmp_path, "digits/mlp", "1.0.0")
    api.install(["digits/mlp"])
    publish(tmp_path, "digits/mlp", "1.1.0")  # newer, but the lock pins 1.0.0
    shutil.rmtree(nnpm_home / "registry")  # no registry at all from here on
    result = api.install([], frozen=True)
    assert [f"{p.name}=={p.version}" for p in result.packages] == ["digits/mlp==1.0.0"]


def test_the_lock_reinstalls_exact_digests_after_the_store_is_wiped(tmp_path, project, nnpm_home):
    publish(tmp_path, "digits/mlp", "1.0.0")
    api.install(["digits/mlp"])
    publish(tmp_path, "digits/mlp", "1.1.0")
    shutil.rmtree(nnpm_home / "store")
    result = api.install([])
    assert [str(p.version) for p in result.packages] == ["1.0.0"]
    assert result.packages[0].sha256 == read_lock(project.lock_file).packages[0].sha256


def test_frozen_fails_when_the_lock_is_stale_or_missing(tmp_path, project):
    publish(tmp_path, "digits/mlp", "1.0.0")
    with pytest.raises(StaleLockError, match="missing"):
        api.install([], frozen=True)
    api.install(["digits/mlp"])
    project.file.write_text(
        project.file.read_text().replace('"digits/mlp>=1.0.0"', '"digits/mlp>=1.0.0", "digits/cnn"')
    )
    with pytest.raises(StaleLockError, match="stale"):
        api.install([], frozen=True)


def test_uninstall_drops_the_package_from_project_and_lock(tmp_path, project):
    publish(tmp_path, "fmnist/embedding", "1.0.0")
    publish(tmp_path, "fmnist/bag-module", "1.0.0", deps={"fmnist/embedding": "==1.0.0"})
    publish(tmp_path, "digits/mlp", "1.0.0")
    api.install(["fmnist/bag-module", "digits/mlp"])
    api.uninstall(["fmnist/bag-module"])
    assert [str(r) for r in read_project(project.root).requirements] == ["digits/mlp>=1.0.0"]
    assert [str(p.name) for p in read_lock(project.lock_file).packages] == ["digits/mlp"]
    assert read_lock(project.lock_file).is_fresh_for(read_project(project.root).requirements)


def test_load_prefers_the_locked_version(tmp_path, project):
    publish(tmp_path, "digits/mlp", "1.0.0")
    api.install(["digits/mlp==1.0.0"])
    publish(tmp_path, "digits/mlp", "1.1.0", seed=3)
    api.install(["digits/mlp==1.1.0"], project=False)  # installed, but not what the project locked
    assert str(api.load("digits/mlp").manifest.version) == "1.0.0"
    assert str(api.load("digits/mlp", project=False).manifest.version) == "1.1.0"


def test_dependencies_cross_registries(tmp_path, project):
    from nnpm.registry.config import add_registry

    add_registry("team", str(tmp_path / "team"))
    api.publish(make_package(tmp_path, "base/embedding", "1.0.0"), registry="team")
    publish(tmp_path, "app/module", "1.0.0", deps={"base/embedding": "==1.0.0"})
    result = api.install(["app/module"])
    assert {str(p.name): p.registry for p in result.packages} == {
        "app/module": "local",
        "base/embedding": "team",
    }


def test_a_misspelt_name_is_not_found_with_the_close_name_suggested(tmp_path, project):
    from nnpm.errors import PackageNotFoundError

    publish(tmp_path, "fmnist/sneaker-module", "1.0.0")
    publish(tmp_path, "fmnist/bag-module", "1.0.0")
    with pytest.raises(PackageNotFoundError) as missing:
        api.install(["fmnist/sneakers-module"])
    assert missing.value.exit_code == 4
    assert "did you mean fmnist/sneaker-module?" in missing.value.hint
    assert "bag-module" not in missing.value.hint
