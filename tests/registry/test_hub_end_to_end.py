"""The Hub workflow through nnpm.api: a configured hf:// registry, publish, search, install, lock, offline."""

from __future__ import annotations

import shutil

import pytest

from nnpm import api, config
from nnpm.errors import IntegrityError, OfflineError
from nnpm.package.manifest import MANIFEST_NAME
from nnpm.package.naming import PackageName
from nnpm.registry import config as registry_config
from nnpm.registry.hub import HubRegistry
from nnpm.resolve.lock import read_lock
from nnpm.resolve.project import init_project
from tests.registry import hub_fixtures
from tests.registry.hub_fixtures import ALICE, make_package

hub_env, hub = hub_fixtures.hub_env, hub_fixtures.hub

REPO = "my-org/fmnist__sneaker-module"
NAME = PackageName.parse("fmnist/sneaker-module")


@pytest.fixture
def hub_registry(hub, monkeypatch):
    """`nnpm registry add hub hf://my-org` pointed at the local Hub, logged in through HF_TOKEN."""
    registry_config.add_registry("hub", "hf://my-org", endpoint=hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", ALICE)
    return hub


def test_open_registry_dispatches_hf_urls_to_the_hub_backend(hub_registry):
    registry = registry_config.open_registry("hub")
    assert isinstance(registry, HubRegistry) and registry.namespace == "my-org"
    assert registry.endpoint == hub_registry.endpoint


def test_publish_search_install_and_lock_pin_the_commit_sha(tmp_path, workdir, hub_registry):
    hub = hub_registry
    package = make_package(tmp_path, seed=0)
    result = api.publish(package, registry="hub")
    assert result.created and hub.repos[REPO].tags["v1.0.0"] == result.revision
    assert [str(i.name) for i in api.search("sneaker", registry="hub")] == ["fmnist/sneaker-module"]

    init_project(workdir)
    api.install(["fmnist/sneaker-module"], registry="hub")
    locked = read_lock(workdir / "nnpm.lock").get(NAME)
    assert locked.registry == "hub" and locked.revision == result.revision
    assert locked.sha256 == result.sha256
    assert (
        "hf_" not in (workdir / "nnpm.lock").read_text()
        and "hf_" not in (workdir / MANIFEST_NAME).read_text()
    )

    # The tag is moved to other content and the store is emptied: the lock still installs the original build.
    republished = make_package(tmp_path / "other", seed=1)
    moved_to = hub.commit_files(
        REPO, {p.name: p.read_bytes() for p in republished.iterdir()}, message="moved"
    )
    hub.move_tag(REPO, "v1.0.0", moved_to)
    shutil.rmtree(config.store_dir())
    (installed,) = api.install().packages
    assert installed.sha256 == result.sha256
    for rel in installed.manifest.files:
        assert (installed.path / rel).read_bytes() == (package / rel).read_bytes()
    served = hub.paths_served()
    assert f"/{REPO}/resolve/{result.revision}/weights.safetensors" in served
    assert not any(p.startswith(f"/{REPO}/resolve/{moved_to}") for p in served)


def test_offline_install_from_the_lock_uses_only_the_store(tmp_path, workdir, hub_registry, monkeypatch):
    hub = hub_registry
    api.publish(make_package(tmp_path), registry="hub")
    init_project(workdir)
    api.install(["fmnist/sneaker-module"], registry="hub")
    served = len(hub.requests)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (installed,) = api.install().packages
    assert installed.name == NAME and len(hub.requests) == served
    assert api.load("fmnist/sneaker-module").manifest.name == NAME

    shutil.rmtree(config.store_dir())  # nothing in the store: offline cannot fetch, and says so
    with pytest.raises(OfflineError) as err:
        api.install()
    assert "offline" in err.value.one_line() and len(hub.requests) == served


def test_a_local_package_can_depend_on_a_hub_module(tmp_path, workdir, hub_registry):
    from tests.factories import make_package as make_local_package

    api.publish(make_package(tmp_path), registry="hub")
    api.publish(make_local_package(tmp_path, "fmnist/composite", deps={"fmnist/sneaker-module": ">=1"}))
    init_project(workdir)
    result = api.install(["fmnist/composite"], registry="local")
    by_name = {str(p.name): p for p in result.packages}
    assert set(by_name) == {"fmnist/composite", "fmnist/sneaker-module"}
    lock = read_lock(workdir / "nnpm.lock")
    assert (
        lock.get(NAME).registry == "hub"
        and lock.get(PackageName.parse("fmnist/composite")).registry == "local"
    )


def test_a_tampered_hub_file_fails_the_install_and_installs_nothing(tmp_path, workdir, hub_registry):
    hub = hub_registry
    package = make_package(tmp_path)
    result = api.publish(package, registry="hub")
    data = bytearray((package / "weights.safetensors").read_bytes())
    data[-1] ^= 0x01
    hub.tamper(REPO, "weights.safetensors", bytes(data), revision=result.revision)
    init_project(workdir)
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        api.install(["fmnist/sneaker-module"], registry="hub")
    assert api.list_installed() == []


def test_the_cli_workflow(tmp_path, workdir, hub, monkeypatch, capsys):
    from nnpm.cli import main

    monkeypatch.setenv("NNPM_OFFLINE", "")  # `--offline` sets it in os.environ; restored after the test
    monkeypatch.setenv("HF_TOKEN", ALICE)
    package = make_package(tmp_path)
    main(["registry", "add", "hub", "hf://my-org", "--endpoint", hub.endpoint])
    main(["publish", str(package), "--registry", "hub"])
    main(["search", "sneaker", "--registry", "hub"])
    assert "fmnist/sneaker-module" in capsys.readouterr().out
    main(["init"])
    main(["install", "fmnist/sneaker-module", "--registry", "hub"])
    assert read_lock(workdir / "nnpm.lock").get(NAME).revision == hub.repos[REPO].tags["v1.0.0"]
    served = len(hub.requests)
    main(["--offline", "install"])
    assert len(hub.requests) == served

    monkeypatch.setenv("NNPM_OFFLINE", "")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_valid_token_123")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["publish", str(make_package(tmp_path, version="2.0.0")), "--registry", "hub"])
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and err.count("\n") == 1 and "hf auth login" in err
    assert "hf_not_a_valid_token_123" not in err


def test_a_hub_module_on_a_hub_embedding_pinned_by_digest(tmp_path, workdir, hub_registry):
    from tests.factories import make_package as make_any_package

    embedding = api.publish(make_any_package(tmp_path, "text/embedding"), registry="hub")
    tagger = make_any_package(
        tmp_path, "text/tagger", deps={"text/embedding": ">=1"}, pins={"text/embedding": embedding.sha256}
    )
    api.publish(tagger, registry="hub")
    init_project(workdir)
    result = api.install(["text/tagger"], registry="hub")
    assert {str(p.name) for p in result.packages} == {"text/embedding", "text/tagger"}
    lock = read_lock(workdir / "nnpm.lock")
    assert (
        lock.get(PackageName.parse("text/embedding")).revision
        == hub_registry.repos["my-org/text__embedding"].tags["v1.0.0"]
    )


def test_install_by_hub_url_uses_the_registry_configured_for_that_namespace(tmp_path, workdir, hub_registry):
    api.publish(make_package(tmp_path), registry="hub")
    init_project(workdir)
    result = api.install([f"hf://{REPO}@1.0.0"])
    assert [(str(p.name), str(p.version), p.registry) for p in result.packages] == [
        ("fmnist/sneaker-module", "1.0.0", "hub")
    ]
    assert read_lock(workdir / "nnpm.lock").get(NAME).revision == hub_registry.repos[REPO].tags["v1.0.0"]


def test_a_hub_url_for_an_unknown_namespace_adds_a_registry_for_it(
    tmp_path, workdir, hub_registry, monkeypatch
):
    monkeypatch.setenv("NNPM_OFFLINE", "1")  # the new registry has no test endpoint: never let it reach out
    with pytest.raises(OfflineError):
        api.install(["hf://other-org/fmnist__sneaker-module@1.0.0"], project=False)
    assert registry_config.get_config("hf-other-org").url == "hf://other-org"


def test_a_file_missing_from_a_hub_repo_fails_the_install_with_exit_code_4(
    tmp_path, workdir, hub, monkeypatch, capsys
):
    from nnpm.cli import main

    monkeypatch.setenv("HF_TOKEN", ALICE)
    main(["registry", "add", "hub", "hf://my-org", "--endpoint", hub.endpoint])
    main(["publish", str(make_package(tmp_path)), "--registry", "hub"])
    moved_to = hub.commit_files(REPO, {}, message="lost the weights", delete=("weights.safetensors",))
    hub.move_tag(REPO, "v1.0.0", moved_to)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["install", "fmnist/sneaker-module", "--registry", "hub", "--no-save"])
    err = capsys.readouterr().err
    assert exit_.value.code == 4, err
    assert (
        err.count("\n") == 1 and "weights.safetensors" in err and "the file is missing from the repo" in err
    )
    assert api.list_installed() == []
