"""Weights reach the loopback Hub the way they reach huggingface.co: through LFS, never inline.

The server answers `preupload` as the Hub does, serves the LFS batch, upload and verify endpoints,
refuses an inline file that should have been LFS and an LFS upload whose bytes are not the object,
and paginates listings. nnpm publishes through the real `huggingface_hub` client with its default
settings (hf_xet installed, Xet not disabled): nnpm asks the server whether it offers Xet and takes
the LFS path when it does not.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests

from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.registry.hub import HubRegistry
from nnpm.testing.hub_server.model import LfsUpload
from tests.registry import hub_fixtures
from tests.registry.hub_fixtures import ALICE, make_package

hub_env, hub, registry = hub_fixtures.hub_env, hub_fixtures.hub, hub_fixtures.registry

REPO = "my-org/fmnist__sneaker-module"
WEIGHTS = "weights.safetensors"
AUTH = {"Authorization": f"Bearer {ALICE}"}
LFS_JSON = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch(registry: HubRegistry, package, path: str, dest) -> bytes:
    """Download `path` of the published `package` through nnpm (hash-checked against its manifest)."""
    manifest = Manifest.read(package / MANIFEST_NAME)
    (info,) = [i for i in registry.versions(manifest.name) if i.version == manifest.version]
    registry.fetch_file(info, path, manifest.files[path], dest / path)
    return (dest / path).read_bytes()


def _commit(endpoint: str, repo_id: str, *lines: dict) -> requests.Response:
    """POST an NDJSON commit on main, as the client does, with `lines` after the header."""
    header = {"key": "header", "value": {"summary": "by hand", "description": ""}}
    body = b"".join(json.dumps(item).encode() + b"\n" for item in (header, *lines))
    headers = {**AUTH, "Content-Type": "application/x-ndjson"}
    return requests.post(
        f"{endpoint}/api/models/{repo_id}/commit/main", data=body, headers=headers, timeout=30
    )


def _batch(endpoint: str, repo_id: str, oid: str, size: int) -> dict:
    doc = {
        "operation": "upload",
        "transfers": ["basic"],
        "objects": [{"oid": oid, "size": size}],
        "hash_algo": "sha256",
    }
    answer = requests.post(f"{endpoint}/{repo_id}.git/info/lfs/objects/batch", json=doc, headers={**AUTH, **LFS_JSON}, timeout=30)  # fmt: skip
    assert answer.status_code == 200 and answer.headers["Content-Type"] == LFS_JSON["Content-Type"]
    (obj,) = answer.json()["objects"]
    return obj


def test_publish_sends_the_weights_through_lfs_and_install_gets_them_back(tmp_path, hub, registry):
    from huggingface_hub import constants

    package = make_package(tmp_path)
    weights = (package / WEIGHTS).read_bytes()
    registry.publish(package)

    oid = _sha256(weights)
    assert hub.lfs_uploads == [LfsUpload(REPO, oid, len(weights))]
    assert f"/lfs-storage/{oid}" in hub.paths_served("PUT")
    assert f"/{REPO}.git/info/lfs/objects/verify" in hub.paths_served("POST")
    head = hub.repos[REPO].head()
    assert head.lfs == {WEIGHTS: oid}  # the commit named the object; nnpm.toml and the card went inline
    assert not constants.HF_HUB_DISABLE_XET  # nnpm switched the client's Xet path off for its commit only

    assert _fetch(registry, package, WEIGHTS, tmp_path / "out") == weights
    answer = requests.head(f"{hub.endpoint}/{REPO}/resolve/v1.0.0/{WEIGHTS}", timeout=30)
    assert answer.headers["X-Linked-Etag"] == answer.headers["ETag"] == f'"{oid}"'
    assert answer.headers["X-Linked-Size"] == str(len(weights))
    assert not any(h.lower().startswith("x-xet") for h in answer.headers)
    (entry,) = [e for e in registry._api.list_repo_tree(REPO) if e.path == WEIGHTS]
    assert entry.lfs.sha256 == oid and entry.lfs.size == len(weights)


def test_preupload_answers_lfs_for_weights_binary_and_large_files(hub, registry):
    hub.commit_files(REPO, {"README.md": b"# hi\n"})

    def item(path: str, sample: bytes, size: int | None = None) -> dict:
        return {
            "path": path,
            "sample": base64.b64encode(sample).decode(),
            "size": len(sample) if size is None else size,
        }

    files = [
        item(WEIGHTS, b'{"__metadata__": {}}'),  # text, but *.safetensors is LFS in the Hub's .gitattributes
        item("data/blob.dat", b"\x00\x01\x02binary"),
        item("big.txt", b"a" * 512, size=11 * 1024 * 1024),
        item("README.md", b"# hi\n"),
        item("notes.md", "ünïcödé text".encode()),
    ]
    url = f"{hub.endpoint}/api/models/{REPO}/preupload/main"
    answer = requests.post(url, json={"files": files}, headers=AUTH, timeout=30).json()
    modes = {f["path"]: f["uploadMode"] for f in answer["files"]}
    assert modes == {WEIGHTS: "lfs", "data/blob.dat": "lfs", "big.txt": "lfs", "README.md": "regular", "notes.md": "regular"}  # fmt: skip
    assert all(f["shouldIgnore"] is False for f in answer["files"])
    oids = {f["path"]: f["oid"] for f in answer["files"]}
    assert oids["README.md"] is not None and oids[WEIGHTS] is None


def test_an_inline_safetensors_file_is_refused(tmp_path, hub):
    weights = (make_package(tmp_path) / WEIGHTS).read_bytes()
    hub.commit_files(REPO, {"README.md": b"# hi\n"})
    head = hub.repos[REPO].branches["main"]

    inline = {"key": "file", "value": {"path": WEIGHTS, "content": base64.b64encode(weights).decode(), "encoding": "base64"}}  # fmt: skip
    answer = _commit(hub.endpoint, REPO, inline)
    assert (
        answer.status_code == 400
        and "binary files" in answer.json()["error"]
        and WEIGHTS in answer.json()["error"]
    )
    assert hub.repos[REPO].branches["main"] == head

    text = {"key": "file", "value": {"path": "notes.md", "content": base64.b64encode(b"ok\n").decode(), "encoding": "base64"}}  # fmt: skip
    assert _commit(hub.endpoint, REPO, text).status_code == 200  # small text still travels inline


def test_an_lfs_upload_with_the_wrong_sha256_is_refused(tmp_path, hub):
    weights = (make_package(tmp_path) / WEIGHTS).read_bytes()
    oid, size = _sha256(weights), len(weights)
    hub.commit_files(REPO, {"README.md": b"# hi\n"})
    obj = _batch(hub.endpoint, REPO, oid, size)
    upload, verify = obj["actions"]["upload"]["href"], obj["actions"]["verify"]["href"]

    forged = bytes(reversed(weights))  # same size, other sha256
    answer = requests.put(upload, data=forged, timeout=30)
    assert answer.status_code == 400 and "sha256 mismatch" in answer.json()["error"]
    answer = requests.put(upload, data=weights + b"\0", timeout=30)
    assert answer.status_code == 400 and "size mismatch" in answer.json()["error"]
    assert hub.lfs_uploads == [] and oid not in hub.repos[REPO].lfs_objects
    assert requests.post(verify, json={"oid": oid, "size": size}, headers=AUTH, timeout=30).status_code == 404
    pointer = {"key": "lfsFile", "value": {"path": WEIGHTS, "algo": "sha256", "oid": oid, "size": size}}
    answer = _commit(hub.endpoint, REPO, pointer)
    assert answer.status_code == 400 and "does not exist" in answer.json()["error"]

    assert requests.put(upload, data=weights, timeout=30).status_code == 200
    assert requests.post(verify, json={"oid": oid, "size": size}, headers=AUTH, timeout=30).status_code == 200
    assert _commit(hub.endpoint, REPO, pointer).status_code == 200
    assert requests.get(f"{hub.endpoint}/{REPO}/resolve/main/{WEIGHTS}", timeout=30).content == weights
    assert requests.put(upload, data=weights, timeout=30).status_code == 403  # an upload URL serves once


def test_a_second_version_sharing_the_weights_uploads_no_new_object(tmp_path, hub, registry):
    first = make_package(tmp_path, version="1.0.0", seed=0)
    second = make_package(tmp_path, version="1.1.0", seed=0)
    weights = (second / WEIGHTS).read_bytes()
    assert weights == (first / WEIGHTS).read_bytes()
    assert (first / MANIFEST_NAME).read_bytes() != (second / MANIFEST_NAME).read_bytes()

    registry.publish(first)
    registry.publish(second)

    oid = _sha256(weights)
    assert hub.lfs_uploads == [LfsUpload(REPO, oid, len(weights))]  # one upload, for 1.0.0
    assert hub.lfs_batches == [(REPO, oid, "upload"), (REPO, oid, "present")]  # 1.1.0: no upload action
    assert len(hub.paths_served("PUT")) == 1
    assert _fetch(registry, second, WEIGHTS, tmp_path / "out") == weights


def test_nnpm_search_finds_every_package_across_page_boundaries(
    tmp_path, hub_env, workdir, monkeypatch, capsys
):
    from nnpm.cli import main
    from nnpm.testing import HubServer

    names = [f"fmnist/class-{i}-module" for i in range(5)]
    with HubServer(tokens={ALICE: "alice"}, orgs={"my-org": {"alice"}}, page_size=2) as small_pages:
        monkeypatch.setenv("HF_TOKEN", ALICE)
        main(["registry", "add", "hub", "hf://my-org", "--endpoint", small_pages.endpoint])
        for name in names:
            main(["publish", str(make_package(tmp_path, name)), "--registry", "hub"])
        capsys.readouterr()
        main(["search", "module", "--registry", "hub"])
        out = capsys.readouterr().out
        assert all(name in out for name in names)
        listings = [p for p in small_pages.paths_served("GET") if p == "/api/models"]
        assert len(listings) >= 3  # 5 packages, 2 a page: the client followed the Link header twice
        assert len(small_pages.lfs_uploads) == len(names)


def test_a_quiet_publish_draws_no_client_bars_and_leaves_the_clients_switch_as_found(
    tmp_path, hub_env, hub, workdir, monkeypatch, capsys
):
    from huggingface_hub.utils import are_progress_bars_disabled

    from nnpm.cli import main

    monkeypatch.setenv("HF_TOKEN", ALICE)
    main(["registry", "add", "hub", "hf://my-org", "--endpoint", hub.endpoint])
    capsys.readouterr()
    main(["-q", "publish", str(make_package(tmp_path)), "--registry", "hub"])
    assert len(hub.lfs_uploads) == 1  # the weights went through LFS, where the client draws a bar per file
    assert capsys.readouterr().err == ""
    assert not are_progress_bars_disabled()  # switched off for the commit only


@pytest.mark.parametrize("bad", [{"oid": "xyz", "size": 1}, {"oid": "a" * 64, "size": -1}])
def test_the_batch_api_answers_per_object_errors(hub, bad):
    hub.commit_files(REPO, {"README.md": b"# hi\n"})
    doc = {"operation": "upload", "transfers": ["basic"], "objects": [bad]}
    answer = requests.post(f"{hub.endpoint}/{REPO}.git/info/lfs/objects/batch", json=doc, headers={**AUTH, **LFS_JSON}, timeout=30)  # fmt: skip
    (obj,) = answer.json()["objects"]
    assert answer.status_code == 200 and obj["error"]["code"] == 422 and "actions" not in obj
    anonymous = requests.post(f"{hub.endpoint}/{REPO}.git/info/lfs/objects/batch", json=doc, headers=LFS_JSON, timeout=30)  # fmt: skip
    assert anonymous.status_code == 401 and "error" in anonymous.json()
