"""OCI registries as nnpm registries, against a real registry server: Debian's `docker-registry`
(the CNCF distribution registry), started on loopback by these fixtures, once without auth and
once with htpasswd basic auth. Skipped, with the reason, only where the binary is not installed."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import requests

from nnpm import api, config
from nnpm.errors import AuthenticationError, ConfigError, ImmutableVersionError, IntegrityError
from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.package.naming import PackageName
from nnpm.registry import config as registry_config
from nnpm.registry.base import VersionInfo
from nnpm.registry.oci import (
    ARTIFACT_TYPE,
    CONFIG_MEDIA_TYPE,
    WEIGHTS_MEDIA_TYPE,
    OciRegistry,
    build_manifest,
    parse_oci_url,
    tag_for,
    version_from_tag,
)
from nnpm.registry.oci.auth import Challenge, docker_credentials
from nnpm.resolve.lock import read_lock
from nnpm.resolve.project import init_project
from tests.factories import make_package, run_cli
from tests.registry import oci_fixtures
from tests.registry.oci_fixtures import PASSWORD, USER, RunningRegistry, _add, pytestmark  # noqa: F401

registry, auth_registry, team = oci_fixtures.registry, oci_fixtures.auth_registry, oci_fixtures.team
NAME = PackageName.parse("digits/mlp")
ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


def _manifest_doc(registry: RunningRegistry, reference: str, repo: str = "ml-team/digits/mlp") -> dict:
    resp = requests.get(f"{registry.http}/v2/{repo}/manifests/{reference}", headers=ACCEPT, timeout=5)
    assert resp.status_code == 200
    return resp.json()


# --- URLs, tags, challenges (no server needed, but kept beside the rest) -------------------------------


def test_plain_http_only_for_loopback_unless_configured_insecure():
    assert parse_oci_url("oci://registry.example.com/ml-team").base_url == "https://registry.example.com"
    assert parse_oci_url("oci://registry.example.com:5000/a", insecure=True).base_url.startswith("http://")
    for url in ("oci://127.0.0.1:5000/t", "oci://localhost:5000/t", "oci://[::1]:5000/t"):
        assert parse_oci_url(url).base_url.startswith("http://"), url
    location = parse_oci_url("oci://registry.example.com/ml-team/vision")
    assert location.repository(NAME) == "ml-team/vision/digits/mlp"
    assert location.package_name("ml-team/vision/digits/mlp") == NAME
    assert location.package_name("other/digits/mlp") is None
    for bad in ("oci://user:pw@host/x", "oci://host/Bad_Path", "oci:///x", "oci://host/x?y=1", "hf://x"):
        with pytest.raises(ConfigError) as err:
            parse_oci_url(bad)
        assert ":pw" not in err.value.one_line()


def test_one_tag_names_each_version_and_other_tags_are_ignored():
    from packaging.version import Version

    for text in ("1.0.0", "2.1.0rc1", "1.0.0.post1", "1.0.0+cpu.1"):
        assert version_from_tag(tag_for(Version(text))) == Version(text)
    assert tag_for(Version("1.0.0+cpu")) == "1.0.0_cpu"
    assert version_from_tag("latest") is None and version_from_tag("v1.0.0") is None
    assert version_from_tag("1.0") == Version("1.0") and version_from_tag("01.0") is None


def test_challenges_and_docker_config_credentials(tmp_path):
    bearer = Challenge.parse(
        'Bearer realm="https://auth.example.com/token",service="reg",scope="repository:a/b:pull,push"'
    )
    assert bearer.scheme == "bearer" and bearer.params["scope"] == "repository:a/b:pull,push"
    assert Challenge.parse('Basic realm="nnpm-test"').scheme == "basic"
    config_json = tmp_path / "config.json"
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config_json.write_text(json.dumps({"auths": {"https://reg.example.com:5000": {"auth": auth}}}))
    creds = docker_credentials("reg.example.com:5000", config_json)
    assert creds.username == USER and creds.password == PASSWORD and PASSWORD not in repr(creds)
    assert docker_credentials("other.example.com", config_json) is None


# --- the workflow against the real registry ------------------------------------------------------------


def test_registry_add_opens_the_oci_backend(team, capsys):
    registry = registry_config.open_registry("team")
    assert isinstance(registry, OciRegistry) and registry.location.base_url == team.http
    code, out, _ = run_cli(capsys, "registry", "list")
    assert code == 0 and f"oci://{team.host}/ml-team" in out
    code, _, err = run_cli(capsys, "registry", "add", "bad", "oci://me:hunter2@example.com/x")
    assert code != 0 and "hunter2" not in err and "must not hold credentials" in err


def test_publish_search_install_and_the_lock_pins_the_manifest_digest(tmp_path, workdir, team):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    result = api.publish(package, registry="team")
    assert result.created and result.revision.startswith("sha256:")

    doc = _manifest_doc(team, "1.0.0")
    assert doc["artifactType"] == ARTIFACT_TYPE and doc["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    assert doc["config"]["digest"] == f"sha256:{result.sha256}"
    titles = {layer["annotations"]["org.opencontainers.image.title"]: layer for layer in doc["layers"]}
    assert set(titles) == set(result.manifest.files)
    assert titles["weights.safetensors"]["mediaType"] == WEIGHTS_MEDIA_TYPE
    assert doc["annotations"]["org.nnpm.package.name"] == "digits/mlp"
    assert doc["annotations"]["org.nnpm.package.version"] == "1.0.0"
    assert doc["annotations"]["org.nnpm.package.kind"] == "model"
    assert json.loads(doc["annotations"]["org.nnpm.package.classes"]) == ["a", "b", "c"]

    make_package(tmp_path, "digits/other", "1.0.0", description="something else")
    api.publish(tmp_path / "digits--other-1.0.0", registry="team")
    assert [str(i.name) for i in api.search("", registry="team")] == ["digits/mlp", "digits/other"]
    assert [str(i.name) for i in api.search("test package", registry="team")] == ["digits/mlp"]
    assert (
        config.home() / "cache" / "oci" / "sha256" / result.sha256
    ).is_file()  # nnpm.toml, cached by digest

    init_project(workdir)
    (installed,) = api.install(["digits/mlp==1.0.0"], registry="team").packages
    locked = read_lock(workdir / "nnpm.lock").get(NAME)
    assert locked.registry == "team" and locked.revision == result.revision and locked.sha256 == result.sha256
    for rel in installed.manifest.files:
        assert (installed.path / rel).read_bytes() == (package / rel).read_bytes()


def test_same_version_again_is_a_no_op_and_other_content_is_refused(tmp_path, team):
    first = api.publish(make_package(tmp_path, "digits/mlp", "1.0.0", seed=0), registry="team")
    again = api.publish(make_package(tmp_path / "again", "digits/mlp", "1.0.0", seed=0), registry="team")
    assert not again.created and again.revision == first.revision
    with pytest.raises(ImmutableVersionError) as err:
        api.publish(make_package(tmp_path / "other", "digits/mlp", "1.0.0", seed=1), registry="team")
    assert "digits/mlp==1.0.0 is already published with different content" in err.value.one_line()
    assert _manifest_doc(team, "1.0.0")["config"]["digest"] == f"sha256:{first.sha256}"


def test_a_moved_tag_is_detected_and_the_lock_installs_the_pinned_digest(tmp_path, workdir, team):
    package = make_package(tmp_path, "digits/mlp", "1.0.0", seed=0)
    result = api.publish(package, registry="team")
    init_project(workdir)
    api.install(["digits/mlp"], registry="team")

    # Someone force-pushes other content under the tag 1.0.0, bypassing nnpm's immutability check.
    other = make_package(tmp_path / "other", "digits/mlp", "1.0.0", seed=1)
    registry = registry_config.open_registry("team")
    moved = _push_raw(registry, other)
    assert moved != result.revision
    assert registry_config.open_registry("team").versions(NAME)[0].revision == moved

    shutil.rmtree(config.store_dir())  # the store is emptied: the lock alone decides what comes back
    (installed,) = api.install().packages
    assert installed.sha256 == result.sha256
    for rel in installed.manifest.files:
        assert (installed.path / rel).read_bytes() == (package / rel).read_bytes()
    # Asked by tag for the sha256 the lock promised, the registry notices the tag now holds another build.
    with pytest.raises(IntegrityError, match="tag was moved"):
        registry.fetch_manifest(VersionInfo(NAME, result.manifest.version, result.sha256, kind=""))


def _push_raw(registry: OciRegistry, package: Path, tag: str | None = None, repo: str | None = None) -> str:
    """Push a package under its tag (or `tag`, into `repo`) without nnpm's checks, as a force-push
    does; the new digest."""
    data = (package / MANIFEST_NAME).read_bytes()
    manifest = Manifest.from_toml(data.decode(), where="test")
    repo = repo or registry.repository(manifest.name)
    for rel, entry in manifest.files.items():
        registry.client.upload_blob(repo, f"sha256:{entry.sha256}", entry.size, package / rel)
    from nnpm.package.manifest import sha256_bytes

    registry.client.upload_blob(repo, f"sha256:{sha256_bytes(data)}", len(data), data)
    body = build_manifest(manifest, sha256_bytes(data), len(data))
    return registry.client.put_manifest(repo, tag or tag_for(manifest.version), body)


def test_search_names_broken_tags_and_lists_the_older_version(tmp_path, team, capsys):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    api.publish(package, registry="team")
    registry = registry_config.open_registry("team")
    _push_raw(registry, package, tag="1.1.0")  # a tag whose manifest is another version's
    _push_raw(registry, package, tag="1.0.0", repo=registry.repository(PackageName.parse("digits/cnn")))
    found = api.search(registry="team")
    assert [(str(i.name), str(i.version)) for i in found] == [("digits/mlp", "1.0.0")]
    assert {(b.package, b.where.rsplit(":", 1)[1], b.listed) for b in found.broken} == {
        ("digits/mlp", "1.1.0", True),
        ("digits/cnn", "1.0.0", False),
    }
    code, _, err = run_cli(capsys, "search", "--registry", "team")
    assert code == 0 and "digits/cnn has no readable version and is not listed" in err


def test_a_tampered_blob_is_detected_and_nothing_is_installed(tmp_path, workdir, team):
    result = api.publish(make_package(tmp_path, "digits/mlp", "1.0.0"), registry="team")
    weights = result.manifest.files["weights.safetensors"]
    blob = team.blob_file(f"sha256:{weights.sha256}")
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    init_project(workdir)
    with pytest.raises(IntegrityError) as err:
        api.install(["digits/mlp"], registry="team")
    assert "digest mismatch" in err.value.one_line()
    assert not any((config.store_dir() / "packages").rglob(MANIFEST_NAME))


def test_a_second_version_sharing_the_weights_uploads_them_once(tmp_path, team):
    registry = registry_config.open_registry("team")
    first = registry.publish(make_package(tmp_path, "digits/mlp", "1.0.0", seed=0))
    uploaded_first = registry.client.stats.bytes_uploaded
    weights = first.manifest.files["weights.safetensors"]
    assert uploaded_first > weights.size

    second_dir = make_package(tmp_path, "digits/mlp", "1.1.0", seed=0)  # same weights, new card and manifest
    before_bytes, before_reused = registry.client.stats.bytes_uploaded, registry.client.stats.blobs_reused
    second = registry.publish(second_dir)
    assert second.manifest.files["weights.safetensors"] == weights
    changed = [e for rel, e in second.manifest.files.items() if first.manifest.files.get(rel) != e]
    toml_size = (second_dir / MANIFEST_NAME).stat().st_size
    assert registry.client.stats.bytes_uploaded - before_bytes == sum(e.size for e in changed) + toml_size
    assert registry.client.stats.blobs_reused - before_reused >= 1
    assert [str(i.version) for i in registry.versions(NAME)] == ["1.0.0", "1.1.0"]


def test_basic_auth_with_credentials_from_the_environment(
    tmp_path, workdir, auth_registry, capsys, monkeypatch
):
    monkeypatch.setenv("NNPM_OCI_USERNAME", USER)
    monkeypatch.setenv("NNPM_OCI_PASSWORD", PASSWORD)
    _add(capsys, auth_registry)
    result = api.publish(make_package(tmp_path, "digits/mlp", "1.0.0"), registry="team")
    assert [str(i.name) for i in api.search("", registry="team")] == ["digits/mlp"]
    init_project(workdir)
    api.install(["digits/mlp"], registry="team")
    assert read_lock(workdir / "nnpm.lock").get(NAME).revision == result.revision
    for path in (workdir / "nnpm.lock", workdir / MANIFEST_NAME, config.config_file()):
        assert PASSWORD not in path.read_text()


def test_basic_auth_with_docker_config_credentials(tmp_path, auth_registry, capsys, monkeypatch):
    for var in ("NNPM_OCI_USERNAME", "NNPM_OCI_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    _add(capsys, auth_registry)
    assert api.publish(make_package(tmp_path, "digits/mlp", "1.0.0"), registry="team").created


def test_wrong_or_missing_credentials_give_one_clear_error_line(tmp_path, auth_registry, capsys, monkeypatch):
    _add(capsys, auth_registry)
    monkeypatch.setenv("NNPM_OCI_USERNAME", USER)
    monkeypatch.setenv("NNPM_OCI_PASSWORD", "wrong-password")
    code, out, err = run_cli(capsys, "search", "--registry", "team")
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1
    assert "refused the credentials (from NNPM_OCI_USERNAME)" in err and "wrong-password" not in err
    with pytest.raises(AuthenticationError):
        api.publish(make_package(tmp_path, "digits/mlp", "1.0.0"), registry="team")

    monkeypatch.delenv("NNPM_OCI_USERNAME")
    monkeypatch.delenv("NNPM_OCI_PASSWORD")
    code, _, err = run_cli(capsys, "search", "--registry", "team")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "requires a login" in err


def test_offline_install_from_the_lock_uses_only_the_store(tmp_path, workdir, team, monkeypatch):
    api.publish(make_package(tmp_path, "digits/mlp", "1.0.0"), registry="team")
    init_project(workdir)
    api.install(["digits/mlp"], registry="team")
    monkeypatch.setenv("NNPM_OFFLINE", "1")
    (installed,) = api.install().packages
    assert installed.name == NAME
