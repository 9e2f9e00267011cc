"""HubRegistry against a hostile or broken Hub (issue 16): the real client, the loopback Hub, injected faults.

Every fault is one `HubServer.override` with an answer from `nnpm.testing.hub_server.faults`;
the server is normal for every other request.
"""

from __future__ import annotations

import logging
import time

import pytest

from nnpm import api
from nnpm.errors import IntegrityError, ManifestError, RegistryError
from nnpm.package.files import MAX_MANIFEST_BYTES
from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.package.naming import PackageName
from nnpm.registry import config as registry_config
from nnpm.registry.hub import HubRegistry
from nnpm.registry.hub.download import HubDeadlineError
from nnpm.testing.hub_server import faults
from tests.factories import run_cli
from tests.registry import hub_fixtures
from tests.registry.hub_fixtures import ALICE, make_package

hub_env, hub, registry = hub_fixtures.hub_env, hub_fixtures.hub, hub_fixtures.registry

REPO = "my-org/fmnist__sneaker-module"
NAME = PackageName.parse("fmnist/sneaker-module")
WEIGHTS = r"/resolve/[^/]+/weights\.safetensors$"


@pytest.fixture
def published(tmp_path, registry):
    """fmnist/sneaker-module 1.0.0 on the Hub: (its VersionInfo, its manifest)."""
    package = make_package(tmp_path)
    registry.publish(package)
    return registry.versions(NAME)[0], Manifest.read(package / MANIFEST_NAME)


def fresh(hub, **kwargs) -> HubRegistry:
    """A registry with no manifest cached, as alice unless told otherwise."""
    kwargs = {"token": ALICE, "backoff": 0.01, **kwargs}
    return HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, **kwargs)


# --- 1. downloads are bounded by the manifest's sizes ----------------------------------------------


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "no-length"])
def test_a_file_larger_than_declared_is_stopped_at_its_declared_size(
    tmp_path, hub, registry, published, announce
):
    info, manifest = published
    entry = manifest.files["weights.safetensors"]
    hub.override(WEIGHTS, faults.oversized(64 * 2**20, announce=announce), method="GET")
    dest = tmp_path / "out" / "weights.safetensors"
    with pytest.raises(IntegrityError) as err:
        registry.fetch_file(info, "weights.safetensors", entry, dest)
    line = err.value.one_line()
    assert f"hf://{REPO}@{info.revision}/weights.safetensors" in line and "\n" not in line
    assert f"more than the {entry.size} bytes nnpm.toml declares" in line and "stopped there" in line
    assert err.value.exit_code == 3
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # nothing half-written


def test_a_manifest_over_the_cap_is_stopped_there(hub, published):
    hub.override(r"/resolve/[^/]+/nnpm\.toml$", faults.oversized(MAX_MANIFEST_BYTES * 4, announce=False))
    with pytest.raises(ManifestError) as err:
        fresh(hub).versions(NAME)
    line = err.value.one_line()
    assert f"more than {MAX_MANIFEST_BYTES} bytes for nnpm.toml" in line and f"hf://{REPO}@v1.0.0" in line


def test_the_cli_refuses_an_oversized_file_on_one_line_and_installs_nothing(hub, published, workdir, capsys):
    from tests.factories import run_cli

    assert run_cli(capsys, "init")[0] == 0
    assert run_cli(capsys, "registry", "add", "hub", "hf://my-org", "--endpoint", hub.endpoint)[0] == 0
    hub.override(WEIGHTS, faults.oversized(8 * 2**20), method="GET")
    code, out, err = run_cli(capsys, "install", "fmnist/sneaker-module", "--registry", "hub")
    assert code == 3 and len(err.strip().splitlines()) == 1, err
    assert "stopped there" in err and "hint:" in err
    assert run_cli(capsys, "list", "--json")[1].count("sneaker") == 0


# --- 2. a per-file deadline derived from the size ----------------------------------------------------


def test_a_drip_feeding_server_is_stopped_at_the_files_deadline(tmp_path, hub, published):
    info, manifest = published
    hub.override(WEIGHTS, faults.drip(0.05, size=manifest.files["weights.safetensors"].size), method="GET")
    slow = fresh(hub, download_timeout=0.5, min_rate=1e9)
    with pytest.raises(
        HubDeadlineError
    ) as err:  # without the deadline the drip would finish, raising nothing
        slow.fetch_file(info, "weights.safetensors", manifest.files["weights.safetensors"], tmp_path / "w")
    line = err.value.one_line()
    assert isinstance(err.value, RegistryError) and err.value.exit_code == 1
    assert "weights.safetensors" in line and "deadline" in line and "NNPM_HUB_TIMEOUT" in line
    assert not (tmp_path / "w").exists()


def test_a_stalled_server_is_stopped_at_the_deadline_nnpm_hub_timeout_sets(
    tmp_path, hub, published, monkeypatch
):
    info, manifest = published
    monkeypatch.setenv("NNPM_HUB_TIMEOUT", "0.5")
    hub.override(WEIGHTS, faults.stall(20, size=manifest.files["weights.safetensors"].size), method="GET")
    stalled = fresh(hub, min_rate=1e9)
    with pytest.raises(HubDeadlineError) as err:  # the stall ends after 20 s and the file would then arrive
        stalled.fetch_file(info, "weights.safetensors", manifest.files["weights.safetensors"], tmp_path / "w")
    assert "not done within its 0.5 s deadline (0.5 s + " in err.value.one_line()


def test_the_default_deadline_grows_with_the_size(monkeypatch):
    from nnpm.registry.hub.download import BASE_SECONDS, MIN_RATE, Deadline

    monkeypatch.delenv("NNPM_HUB_TIMEOUT", raising=False)
    assert Deadline.for_size(0).seconds == BASE_SECONDS
    assert Deadline.for_size(100 * MIN_RATE).seconds == BASE_SECONDS + 100


# --- 3. every token nnpm can know of is redacted ---------------------------------------------------


def saved_login(hub_env, token: str = ALICE) -> None:
    """`hf auth login` as the client saves it: $HF_HOME/token."""
    hub_env.mkdir(parents=True, exist_ok=True)
    (hub_env / "token").write_text(token)


@pytest.mark.parametrize("status", [400, 403, 503])
def test_a_saved_login_echoed_by_the_server_is_redacted(hub_env, hub, published, status):
    saved_login(hub_env)
    hub.override(r"/refs$", faults.error(status, "rejected", echo_token=True))
    with pytest.raises(RegistryError) as err:
        fresh(hub, token=None, retries=0).versions(NAME)
    line = err.value.one_line()
    assert ALICE not in line and ALICE not in str(err.value)
    if status != 503:
        assert "(token ***)" in line


def test_a_token_in_nnpms_config_is_redacted(nnpm_home, hub, published):
    secret = "hf_from_config_0123456789"
    nnpm_home.mkdir(parents=True, exist_ok=True)
    (nnpm_home / "config.toml").write_text(
        f'[registries.hub]\nurl = "hf://my-org"\nendpoint = "{hub.endpoint}"\ntoken = "{secret}"\n'
    )
    hub.override(r"/refs$", faults.error(400, f"{secret} is not a valid token"))
    with pytest.raises(RegistryError) as err:
        fresh(hub).versions(NAME)
    assert secret not in err.value.one_line() and "*** is not a valid token" in err.value.one_line()


def test_a_token_echoed_into_the_clients_log_lines_is_redacted(hub_env, hub, published, caplog):
    saved_login(hub_env)
    hub.override(r"/refs$", faults.warning("token expires soon", topic="nnpm-redact", echo_token=True))
    with caplog.at_level(logging.WARNING):
        assert [str(i.version) for i in fresh(hub, token=None).versions(NAME)] == ["1.0.0"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("token expires soon" in m for m in messages), messages
    assert not any(ALICE in m for m in messages)


# --- 4. hostile listings, broken tags, 5xx -----------------------------------------------------------


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "a/../../b"])
def test_an_unsafe_path_in_the_tree_listing_is_refused_and_nothing_is_published(
    tmp_path, hub, published, path
):
    listing = [{"type": "file", "path": path, "oid": "0" * 40, "size": 1}]
    hub.override(r"/api/models/[^/]+/[^/]+/tree/", faults.json_answer(listing), method="GET")
    commits = set(hub.repos[REPO].commits)
    with pytest.raises(RegistryError) as err:
        fresh(hub).publish(make_package(tmp_path, version="2.0.0"))
    assert f"unsafe path {path!r}" in err.value.one_line() and "nothing was published" in err.value.one_line()
    assert set(hub.repos[REPO].commits) == commits and "v2.0.0" not in hub.repos[REPO].tags


@pytest.mark.parametrize("breakage", ["no-manifest", "bad-toml", "wrong-version"])
def test_search_shows_the_older_version_and_names_the_broken_newest_tag(tmp_path, hub, registry, breakage):
    registry.publish(make_package(tmp_path, version="1.0.0"))
    registry.publish(make_package(tmp_path, version="1.1.0"))
    if breakage == "no-manifest":
        broken = hub.commit_files(REPO, {}, delete=(MANIFEST_NAME,))
    else:
        text = (
            b"[package\n"
            if breakage == "bad-toml"
            else hub.repos[REPO].resolve("v1.0.0").files[MANIFEST_NAME]
        )
        broken = hub.commit_files(REPO, {MANIFEST_NAME: text})
    hub.move_tag(REPO, "v1.1.0", broken)

    searching = fresh(hub)
    (found,) = searching.search("sneaker")
    assert str(found.version) == "1.0.0"
    assert found.description.startswith("[tag v1.1.0 is broken: ")
    assert [(b.where, b.listed) for b in searching.broken] == [(f"hf://{REPO}@v1.1.0", True)]


def test_a_package_whose_tags_are_all_broken_is_named_by_search(tmp_path, hub, registry, monkeypatch, capsys):
    registry.publish(make_package(tmp_path, version="1.0.0"))
    hub.move_tag(REPO, "v1.0.0", hub.commit_files(REPO, {MANIFEST_NAME: b"[package\n"}))
    registry_config.add_registry("hub", "hf://my-org", endpoint=hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", ALICE)
    found = api.search(registry="hub")
    assert list(found) == []
    (broken,) = found.broken
    assert broken.where == f"hf://{REPO}@v1.0.0" and not broken.listed
    code, out, err = run_cli(capsys, "search", "--registry", "hub")
    assert code == 0 and out == "" and "no package matches" in err
    assert (
        f"warning: hf://{REPO}@v1.0.0 is broken (" in err
        and "has no readable version and is not listed" in err
    )


def test_a_5xx_on_a_download_names_its_status_and_url_promptly(tmp_path, hub, registry, published):
    info, manifest = published
    hub.fail_next(WEIGHTS, status=503, times=100)
    with pytest.raises(RegistryError) as err:
        registry.fetch_file(
            info, "weights.safetensors", manifest.files["weights.safetensors"], tmp_path / "w"
        )
    line = err.value.one_line()
    url = f"GET {hub.endpoint}/{REPO}/resolve/{info.revision}/weights.safetensors"
    assert "the Hub did not answer (HTTP 503) after 5 attempts" in line and url in line, line
    assert sum("weights.safetensors" in p for p in hub.paths_served()) == 5


def test_a_5xx_on_the_listing_is_not_retried_on_top_of_the_clients_retries(hub, published, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # the client's own backoff and nnpm's, not slept
    hub.fail_next(r"^/api/models$", status=503, times=100)
    with pytest.raises(RegistryError) as err:
        fresh(hub, backoff=0.5).search("sneaker")
    line = err.value.one_line()
    assert "HTTP 503" in line and f"GET {hub.endpoint}/api/models" in line and ALICE not in line
    assert hub.paths_served("GET").count("/api/models") <= 6  # the client's 1 + 5 retries, not 5 x 6
    assert sum(waits) < 30
