"""Where OCI credentials come from (issue 14), against docker-registry with htpasswd basic auth:
Docker credential helpers (`credsStore`, `credHelpers`) and a bearer token (NNPM_OCI_TOKEN).

The helper is a real program on PATH (a small shell script, as `docker-credential-*` helpers
are executables), run the way Docker runs it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nnpm import api
from nnpm.errors import AuthenticationError, ConfigError
from tests.factories import make_package, run_cli
from tests.registry import oci_fixtures
from tests.registry.oci_fixtures import PASSWORD, USER, _add, pytestmark  # noqa: F401

auth_registry = oci_fixtures.auth_registry

TOKEN = "registry-token-never-shown-0123"


@pytest.fixture
def docker_home(tmp_path, monkeypatch) -> Path:
    for var in ("NNPM_OCI_USERNAME", "NNPM_OCI_PASSWORD", "NNPM_OCI_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "docker"
    home.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(home))
    return home


def _helper(tmp_path: Path, monkeypatch, name: str, body: str) -> Path:
    """docker-credential-NAME on PATH, which logs the host it was asked about."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / f"docker-credential-{name}"
    program.write_text(
        f'#!/bin/sh\n[ "$1" = get ] || exit 2\nread host\necho "$host" >> {bin_dir}/asked\n{body}\n'
    )
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir / "asked"


LOGIN = f'echo \'{{"ServerURL": "x", "Username": "{USER}", "Secret": "{PASSWORD}"}}\''


@pytest.mark.parametrize("where", ["credsStore", "credHelpers"])
def test_a_docker_credential_helper_logs_in(tmp_path, auth_registry, docker_home, capsys, monkeypatch, where):
    asked = _helper(tmp_path, monkeypatch, "nnpmtest", LOGIN)
    doc = (
        {"credsStore": "nnpmtest"}
        if where == "credsStore"
        else {"credHelpers": {auth_registry.host: "nnpmtest"}}
    )
    (docker_home / "config.json").write_text(json.dumps(doc))
    _add(capsys, auth_registry)
    assert api.publish(make_package(tmp_path, "digits/mlp", "1.0.0"), registry="team").created
    assert auth_registry.host in asked.read_text().split()


def test_a_helper_without_a_login_for_the_host_means_no_credentials(tmp_path, auth_registry, docker_home, capsys,
                                                                    monkeypatch):  # fmt: skip
    _helper(tmp_path, monkeypatch, "empty", "echo 'credentials not found in native keychain'; exit 1")
    (docker_home / "config.json").write_text(json.dumps({"credsStore": "empty"}))
    _add(capsys, auth_registry)
    code, _, err = run_cli(capsys, "search", "--registry", "team")
    assert code != 0 and err.count("\n") == 1 and "requires a login and nnpm has no credentials" in err


@pytest.mark.parametrize(
    ("body", "said"),
    [(None, "docker-credential-missing is not on PATH"), ("echo oops; exit 3", "failed (exit 3)"),
     ("echo not-json", "printed no Username and Secret")],
)  # fmt: skip
def test_a_broken_helper_is_one_line(tmp_path, auth_registry, docker_home, capsys, monkeypatch, body, said):
    if body is not None:
        _helper(tmp_path, monkeypatch, "missing", body)
    (docker_home / "config.json").write_text(json.dumps({"credsStore": "missing"}))
    _add(capsys, auth_registry)
    code, _, err = run_cli(capsys, "search", "--registry", "team")
    assert code != 0 and err.count("\n") == 1 and said in err and PASSWORD not in err
    with pytest.raises(ConfigError):
        api.search(registry="team")


def test_a_bearer_token_is_sent_and_its_refusal_never_shows_it(tmp_path, auth_registry, docker_home, capsys,
                                                               monkeypatch):  # fmt: skip
    monkeypatch.setenv("NNPM_OCI_TOKEN", TOKEN)
    _add(capsys, auth_registry)
    code, out, err = run_cli(capsys, "search", "--registry", "team")
    assert code != 0 and out == "" and err.count("\n") == 1
    assert "refused the credentials (from NNPM_OCI_TOKEN)" in err and TOKEN not in err
    with pytest.raises(AuthenticationError) as caught:
        api.publish(make_package(tmp_path, "digits/mlp", "1.0.0"), registry="team")
    assert TOKEN not in caught.value.one_line() and TOKEN not in repr(caught.value)


def test_the_token_goes_to_the_registry_host_only(monkeypatch):
    from nnpm.registry.oci.auth import Authenticator, find_credentials
    from nnpm.registry.oci.names import parse_oci_url

    monkeypatch.setenv("NNPM_OCI_TOKEN", TOKEN)
    auth = Authenticator(parse_oci_url("oci://registry.example.com/team"), "team", find_credentials("x"))
    assert auth.header("team/a", "https://registry.example.com/v2/team/a/tags/list") == f"Bearer {TOKEN}"
    assert auth.header("team/a", "https://storage.example.net/blob?sig=1") is None
    assert TOKEN not in repr(auth) and TOKEN not in repr(auth.credentials)


def test_registry_add_insecure_is_for_oci_only_and_reaches_the_backend(capsys):
    from nnpm.registry import config as registry_config

    code, _, err = run_cli(
        capsys, "registry", "add", "team", "oci://registry.internal:5000/ml-team", "--insecure"
    )
    assert code == 0, err
    assert registry_config.open_registry("team").location.base_url == "http://registry.internal:5000"
    code, _, err = run_cli(capsys, "registry", "add", "dir", "/srv/nnpm", "--insecure")
    assert code == 2 and "--insecure applies only to oci:// registries" in err
    code, _, _ = run_cli(capsys, "registry", "add", "plain", "oci://registry.internal:5000/ml-team")
    assert registry_config.open_registry("plain").location.base_url == "https://registry.internal:5000"
