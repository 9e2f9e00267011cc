"""HubRegistry over real HTTP: the real huggingface_hub client against nnpm.testing.HubServer."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from packaging.version import Version

from nnpm.errors import (
    AuthenticationError,
    ImmutableVersionError,
    IntegrityError,
    InvalidNameError,
    ManifestError,
    OfflineError,
    RegistryError,
    VersionNotFoundError,
)
from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.package.naming import PackageName
from nnpm.registry.base import VersionInfo
from nnpm.registry.hub import (
    HubRegistry,
    package_name_for,
    parse_hub_requirement,
    repo_id_for,
    tag_for,
    version_from_tag,
)
from nnpm.testing.hub_server import front_matter
from tests.registry import hub_fixtures
from tests.registry.hub_fixtures import ALICE, BOB, make_package

# the fixtures, registered in this module (tests/conftest.py belongs to the whole suite)
hub_env, hub, registry = hub_fixtures.hub_env, hub_fixtures.hub, hub_fixtures.registry

REPO = "my-org/fmnist__sneaker-module"
NAME = PackageName.parse("fmnist/sneaker-module")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the mapping -----------------------------------------------------------------------------------


def test_repo_ids_and_tags_map_both_ways():
    assert repo_id_for("my-org", NAME) == REPO
    assert package_name_for(REPO) == NAME
    assert tag_for("1.0") == "v1.0" and tag_for(Version("2.0.0rc1")) == "v2.0.0rc1"
    assert version_from_tag("v1.0.0") == Version("1.0.0")
    assert (
        version_from_tag("1.0.0") is None
        and version_from_tag("v01.0") is None
        and version_from_tag("main") is None
    )
    with pytest.raises(ManifestError, match="not an nnpm package"):
        package_name_for("my-org/bert-base")
    with pytest.raises(InvalidNameError, match="too long"):
        repo_id_for("my-org", PackageName.parse(f"{'a' * 50}/{'b' * 50}"))


def test_hub_requirements_name_a_namespace_and_a_package():
    namespace, req = parse_hub_requirement(f"hf://{REPO}@1.0.0")
    assert namespace == "my-org" and str(req) == "fmnist/sneaker-module==1.0.0"
    assert str(parse_hub_requirement(f"hf://{REPO}>=1,<2")[1]) == "fmnist/sneaker-module<2,>=1"
    assert str(parse_hub_requirement(f"hf://{REPO}")[1]) == "fmnist/sneaker-module"
    with pytest.raises(InvalidNameError):
        parse_hub_requirement("hf://my-org")
    with pytest.raises(ManifestError, match="not an nnpm package"):
        parse_hub_requirement("hf://my-org/bert-base@1.0")


# --- publish and read back ------------------------------------------------------------------------


def test_publish_is_one_commit_with_every_file_then_a_tag(tmp_path, hub, registry):
    package = make_package(tmp_path)
    manifest = Manifest.read(package / MANIFEST_NAME)
    result = registry.publish(package)

    assert result.created and result.registry == "hub"
    assert result.sha256 == sha256((package / MANIFEST_NAME).read_bytes())
    repo = hub.repos[REPO]
    assert repo.tags == {"v1.0.0": result.revision}
    commit = repo.commits[result.revision]
    assert set(commit.files) == {".gitattributes", MANIFEST_NAME, *manifest.files}
    for rel in manifest.files:
        assert commit.files[rel] == (package / rel).read_bytes()
    assert hub.paths_served("POST").count(f"/api/models/{REPO}/commit/main") == 1
    card = commit.files["README.md"].decode()
    meta = front_matter(card)
    assert meta["library_name"] == "nnpm" and "nnpm" in meta["tags"] and meta["license"] == "mit"
    assert meta["datasets"] == ["digits"]


def test_versions_search_and_fetch_by_tag_and_by_sha(tmp_path, hub, registry):
    first = registry.publish(make_package(tmp_path, version="1.0.0", seed=0))
    package = make_package(tmp_path, version="1.1.0", seed=1)
    second = registry.publish(package)
    registry.publish(
        make_package(tmp_path, "fmnist/bag-module", "1.0.0", description="bags and totes", classes=("bag",))
    )
    hub.commit_files("my-org/bert-base", {"README.md": b"---\ntags:\n- nnpm\n---\n"})  # tagged, not a package
    hub.commit_files("other-org/fmnist__coat-module", {"README.md": b"---\ntags:\n- nnpm\n---\n"})

    infos = registry.versions(NAME)
    assert [str(i.version) for i in infos] == ["1.0.0", "1.1.0"]
    assert [i.revision for i in infos] == [first.revision, second.revision]
    assert infos[1].sha256 == second.sha256 and infos[1].classes == ("sneaker",) and infos[1].kind == "module"

    found = registry.search("sneaker")
    assert [(str(i.name), str(i.version)) for i in found] == [("fmnist/sneaker-module", "1.1.0")]
    assert [str(i.name) for i in registry.search("totes")] == ["fmnist/bag-module"]
    assert [str(i.name) for i in registry.search()] == ["fmnist/bag-module", "fmnist/sneaker-module"]

    manifest = Manifest.read(package / MANIFEST_NAME)
    for info in (infos[1], dataclasses.replace(infos[1], revision=None)):  # by commit sha, then by tag
        data = registry.fetch_manifest(info)
        assert data == (package / MANIFEST_NAME).read_bytes()
        for rel, entry in manifest.files.items():
            dest = tmp_path / "fetched" / (info.revision or "tag") / rel
            registry.fetch_file(info, rel, entry, dest)
            assert dest.read_bytes() == (package / rel).read_bytes()
            assert sha256(dest.read_bytes()) == entry.sha256
    assert not list((tmp_path / "fetched").rglob(".nnpm-hub-*"))  # temp dirs cleaned up


def test_unknown_package_and_unknown_version(tmp_path, registry):
    assert registry.versions(PackageName.parse("fmnist/nothing")) == []
    registry.publish(make_package(tmp_path))
    missing = VersionInfo(NAME, Version("9.9.9"), sha256="", kind="module")
    with pytest.raises(VersionNotFoundError) as err:
        registry.fetch_manifest(missing)
    assert err.value.one_line().startswith(f"hf://{REPO}@v9.9.9/nnpm.toml: no such version")


def test_republishing_identical_content_is_a_no_op_and_different_content_is_refused(tmp_path, hub, registry):
    first = registry.publish(make_package(tmp_path, seed=0))
    commits_before = set(hub.repos[REPO].commits)
    again = registry.publish(make_package(tmp_path / "again", seed=0))
    assert not again.created and again.revision == first.revision and again.sha256 == first.sha256
    assert set(hub.repos[REPO].commits) == commits_before

    with pytest.raises(ImmutableVersionError) as err:
        registry.publish(make_package(tmp_path / "other", seed=1))
    assert "fmnist/sneaker-module==1.0.0 is already published" in err.value.one_line()
    assert set(hub.repos[REPO].commits) == commits_before
    assert hub.repos[REPO].tags == {"v1.0.0": first.revision}


def test_a_new_version_commit_holds_exactly_the_new_package(tmp_path, hub, registry):
    old = make_package(tmp_path, version="1.0.0")
    (old / "extra.txt").write_text("only in 1.0.0\n")
    from nnpm.package.pack import pack

    pack(old)
    registry.publish(old)
    result = registry.publish(make_package(tmp_path, version="2.0.0"))
    files = hub.repos[REPO].commits[result.revision].files
    assert "extra.txt" not in files and "extra.txt" in hub.repos[REPO].resolve("v1.0.0").files


def test_the_card_gets_base_model_when_it_is_not_a_hashed_package_file(tmp_path, hub, registry):
    from nnpm.package.pack import pack

    package = make_package(tmp_path, source_model="fmnist/simcnn")
    # a package that leaves the generated card out of its files table: the registry renders the Hub card
    manifest = Manifest.read(package / MANIFEST_NAME)
    (package / "README.md").unlink()
    manifest = manifest.with_files({k: v for k, v in manifest.files.items() if k != "README.md"})
    (package / MANIFEST_NAME).write_text(manifest.to_toml())
    result = registry.publish(package)
    meta = front_matter(hub.repos[REPO].commits[result.revision].files["README.md"].decode())
    assert meta["base_model"] == "my-org/fmnist__simcnn"
    # a packed package keeps its hashed card byte for byte
    packed = make_package(tmp_path / "packed", version="1.1.0", source_model="fmnist/simcnn")
    pack(packed)
    result = registry.publish(packed)
    assert hub.repos[REPO].commits[result.revision].files["README.md"] == (packed / "README.md").read_bytes()


# --- pinning and integrity ----------------------------------------------------------------------------


def test_a_moved_tag_does_not_change_what_a_pinned_revision_fetches(tmp_path, hub, registry):
    original = make_package(tmp_path, seed=0)
    registry.publish(original)
    locked = registry.versions(NAME)[0]
    # someone commits other bytes and force-moves the tag
    moved_to = hub.commit_files(REPO, {"weights.safetensors": b"not the weights"}, message="sneaky")
    hub.move_tag(REPO, "v1.0.0", moved_to)

    assert registry.fetch_manifest(locked) == (original / MANIFEST_NAME).read_bytes()
    manifest = Manifest.read(original / MANIFEST_NAME)
    dest = tmp_path / "out" / "weights.safetensors"
    registry.fetch_file(locked, "weights.safetensors", manifest.files["weights.safetensors"], dest)
    assert dest.read_bytes() == (original / "weights.safetensors").read_bytes()

    # the tag now points elsewhere: reading by tag gets the new bytes, and nnpm's hash check refuses them
    fresh = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=ALICE, backoff=0.01)
    assert fresh.versions(NAME)[0].revision == moved_to
    by_tag = dataclasses.replace(locked, revision=None)
    with pytest.raises(IntegrityError):
        fresh.fetch_file(
            by_tag, "weights.safetensors", manifest.files["weights.safetensors"], tmp_path / "w2"
        )


def test_a_tampered_file_is_refused_and_never_written(tmp_path, hub, registry):
    package = make_package(tmp_path)
    result = registry.publish(package)
    info = registry.versions(NAME)[0]
    manifest = Manifest.read(package / MANIFEST_NAME)
    entry = manifest.files["weights.safetensors"]
    data = bytearray((package / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF  # same size: the client's size check cannot see it
    hub.tamper(REPO, "weights.safetensors", bytes(data), revision=result.revision)

    dest = tmp_path / "out" / "weights.safetensors"
    with pytest.raises(IntegrityError) as err:
        registry.fetch_file(info, "weights.safetensors", entry, dest)
    line = err.value.one_line()
    assert f"hf://{REPO}@{result.revision}/weights.safetensors" in line and entry.sha256 in line
    assert not dest.exists() and list(dest.parent.iterdir()) == []

    hub.tamper(REPO, MANIFEST_NAME, (package / MANIFEST_NAME).read_bytes() + b"\n", revision=result.revision)
    fresh = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=ALICE, backoff=0.01)
    with pytest.raises(IntegrityError, match="manifest sha256 mismatch"):
        fresh.fetch_manifest(info)


def test_a_repo_that_is_not_an_nnpm_package(tmp_path, hub, registry):
    sha = hub.commit_files(REPO, {"pytorch_model.bin": b"\0" * 10})
    hub.move_tag(REPO, "v1.0.0", sha)
    with pytest.raises(ManifestError) as err:
        registry.versions(NAME)
    assert err.value.one_line().startswith(
        f"registry hub: hf://{REPO} is not an nnpm package: no nnpm.toml at v1.0.0"
    )
    with pytest.raises(ImmutableVersionError, match="does not hold a valid nnpm package"):
        registry.publish(make_package(tmp_path))
    assert hub.repos[REPO].tags == {"v1.0.0": sha}
    hub.commit_files(REPO, {MANIFEST_NAME: b"[package]\nname = 'fmnist/other'\n"})
    hub.move_tag(REPO, "v1.0.0", "main")
    with pytest.raises(ManifestError):
        registry.versions(NAME)


# --- credentials ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [(None, "not authenticated"), ("hf_wrong_token_42", "not authenticated"), (BOB, "permission denied")],
)
def test_auth_errors_say_how_to_log_in_and_never_show_the_token(tmp_path, hub, token, expected):
    registry = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=token, backoff=0.01)
    with pytest.raises(AuthenticationError) as err:
        registry.publish(make_package(tmp_path))
    line = err.value.one_line()
    assert expected in line and "HF_TOKEN" in line and "hf auth login" in line and "\n" not in line
    assert "hf_" not in line
    assert REPO not in hub.repos
    assert "hf_" not in repr(registry)


def test_the_token_comes_from_hf_token_when_none_is_given(tmp_path, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", ALICE)
    registry = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, backoff=0.01)
    assert registry.publish(make_package(tmp_path)).created


def test_an_unknown_token_is_refused_on_reads_too(tmp_path, hub, registry):
    registry.publish(make_package(tmp_path))
    stranger = HubRegistry(
        "hub", "hf://my-org", endpoint=hub.endpoint, token="hf_wrong_token_42", backoff=0.01
    )
    with pytest.raises(AuthenticationError, match="not authenticated"):
        stranger.versions(NAME)


# --- transient failures and offline -------------------------------------------------------------


def test_5xx_is_retried_with_backoff_then_succeeds(tmp_path, hub, registry):
    registry.publish(make_package(tmp_path))
    hub.fail_next(r"/refs$", status=503, times=2)
    before = len(hub.paths_served("GET"))
    assert [str(i.version) for i in registry.versions(NAME)] == ["1.0.0"]
    assert hub.paths_served("GET")[before : before + 3] == [f"/api/models/{REPO}/refs"] * 3


def test_persistent_5xx_is_reported_on_one_line_after_the_retries(tmp_path, hub):
    registry = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=ALICE, retries=2, backoff=0.01)
    hub.fail_next(r"/refs$", status=502, times=100)
    with pytest.raises(RegistryError) as err:
        registry.versions(NAME)
    line = err.value.one_line()
    assert line.startswith(
        f"hf://{REPO}: cannot list versions: the Hub did not answer (HTTP 502) after 3 attempts"
    )
    assert "\n" not in line
    assert hub.paths_served("GET").count(f"/api/models/{REPO}/refs") == 3


def test_offline_touches_nothing(tmp_path, hub, registry, monkeypatch):
    registry.publish(make_package(tmp_path))
    info = registry.versions(NAME)[0]
    manifest = Manifest.read(make_package(tmp_path) / MANIFEST_NAME)
    served = len(hub.requests)
    for var in ("HF_HUB_OFFLINE", "NNPM_OFFLINE"):
        monkeypatch.setenv(var, "1")
        fresh = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=ALICE)
        calls = [
            lambda r=fresh: r.versions(NAME),
            lambda r=fresh: r.search("sneaker"),
            lambda r=fresh: r.fetch_manifest(info),
            lambda r=fresh: r.fetch_file(
                info, "weights.safetensors", manifest.files["weights.safetensors"], tmp_path / "w"
            ),
            lambda r=fresh: r.publish(make_package(tmp_path, version="2.0.0")),
        ]
        for call in calls:
            with pytest.raises(OfflineError):
                call()
        monkeypatch.delenv(var)
    assert len(hub.requests) == served


@pytest.fixture
def short_timeout():
    from nnpm.registry.hub import set_request_timeout

    set_request_timeout(0.5)
    yield
    set_request_timeout(None)


def test_timeouts_are_retried_then_reported(tmp_path, hub, registry, short_timeout):
    registry.publish(make_package(tmp_path))
    hub.delay_next(r"/refs$", 2.0, times=1)
    assert [str(i.version) for i in registry.versions(NAME)] == ["1.0.0"]

    impatient = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=ALICE, retries=1, backoff=0.01)
    hub.delay_next(r"/refs$", 2.0, times=2)
    with pytest.raises(RegistryError) as err:
        impatient.versions(NAME)
    assert "the Hub did not answer (ReadTimeout) after 2 attempts" in err.value.one_line()


def test_packing_for_a_hub_namespace_puts_base_model_in_the_hashed_card(tmp_path, hub, registry):
    from nnpm import Client

    package = make_package(tmp_path, source_model="fmnist/simcnn")
    manifest = Client(home=tmp_path / "home").pack(package, hub_namespace="my-org")
    result = registry.publish(package)
    card = hub.repos[REPO].commits[result.revision].files["README.md"]
    assert front_matter(card.decode())["base_model"] == "my-org/fmnist__simcnn"
    assert result.sha256 == manifest.digest()  # the same digest the package has everywhere


# --- typed errors and pagination ------------------------------------------------------------------


def test_a_file_missing_from_the_repo_is_a_typed_not_found_error(tmp_path, hub, registry):
    from nnpm.errors import NotFoundError
    from nnpm.registry.hub import HubFileNotFoundError

    package = make_package(tmp_path)
    registry.publish(package)
    # the tag is moved to a commit that still has nnpm.toml but lost the weights
    moved_to = hub.commit_files(REPO, {}, message="lost the weights", delete=("weights.safetensors",))
    hub.move_tag(REPO, "v1.0.0", moved_to)
    (info,) = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=ALICE, backoff=0.01).versions(
        NAME
    )
    assert info.revision == moved_to
    entry = Manifest.read(package / MANIFEST_NAME).files["weights.safetensors"]
    with pytest.raises(HubFileNotFoundError) as err:
        registry.fetch_file(info, "weights.safetensors", entry, tmp_path / "out" / "weights.safetensors")
    assert isinstance(err.value, NotFoundError) and isinstance(err.value, RegistryError)
    assert err.value.exit_code == 4
    assert err.value.one_line().startswith(
        f"hf://{REPO}@{moved_to}/weights.safetensors: cannot download weights.safetensors: "
        "the file is missing from the repo"
    )
    assert not (tmp_path / "out" / "weights.safetensors").exists()


def test_search_follows_the_hubs_pagination(tmp_path, hub_env):
    from nnpm.testing import HubServer

    with HubServer(tokens={ALICE: "alice"}, orgs={"my-org": {"alice"}}, page_size=2) as small_pages:
        paged = HubRegistry("hub", "hf://my-org", endpoint=small_pages.endpoint, token=ALICE, backoff=0.01)
        names = [f"fmnist/class-{i}-module" for i in range(5)]
        for name in names:
            paged.publish(make_package(tmp_path, name))
        assert paged.package_names() == sorted(names)
        assert [str(i.name) for i in paged.search("module")] == sorted(names)
        assert small_pages.paths_served("GET").count("/api/models") >= 3 * 2  # 3 pages, twice
