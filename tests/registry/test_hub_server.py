"""nnpm.testing.HubServer answers the real huggingface_hub client like the Hub does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry import hub_fixtures
from tests.registry.hub_fixtures import ALICE, BOB

hub_env, hub, no_xet = hub_fixtures.hub_env, hub_fixtures.hub, hub_fixtures.no_xet

CARD = b'---\nlibrary_name: nnpm\nlicense: "mit"\ntags:\n- "nnpm"\n- "mlp"\n---\n\n# hello\n'


@pytest.fixture
def api(hub, no_xet):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=ALICE)


def _commit(api, repo_id, files, **kwargs):
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=d) for p, d in files.items()]
    return api.create_commit(repo_id, operations=ops, commit_message="add", **kwargs)


def test_whoami_repo_info_tree_and_refs(hub, api):
    assert api.whoami()["name"] == "alice"
    api.create_repo("alice/demo")
    commit = _commit(api, "alice/demo", {"README.md": CARD, "sub/a.bin": b"abc"})
    api.create_tag("alice/demo", tag="v1", revision=commit.oid)

    info = api.model_info("alice/demo", revision="v1")
    assert info.sha == commit.oid and info.library_name == "nnpm" and "nnpm" in info.tags
    assert sorted(s.rfilename for s in info.siblings) == [".gitattributes", "README.md", "sub/a.bin"]
    assert sorted(api.list_repo_files("alice/demo")) == [".gitattributes", "README.md", "sub/a.bin"]
    refs = api.list_repo_refs("alice/demo")
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1", commit.oid)]
    assert [m.id for m in api.list_models(author="alice", filter="nnpm")] == ["alice/demo"]
    assert [m.id for m in api.list_models(search="dem")] == ["alice/demo"]
    assert list(api.list_models(author="bob")) == []

    api.delete_tag("alice/demo", tag="v1")
    assert api.list_repo_refs("alice/demo").tags == []


def test_commits_chain_and_a_stale_parent_is_refused(hub, api):
    from huggingface_hub.errors import HfHubHTTPError

    api.create_repo("alice/demo")
    first = _commit(api, "alice/demo", {"a.txt": b"1"})
    second = _commit(api, "alice/demo", {"a.txt": b"2"}, parent_commit=first.oid)
    assert hub.repos["alice/demo"].commits[second.oid].parent == first.oid
    with pytest.raises(HfHubHTTPError) as err:
        _commit(api, "alice/demo", {"a.txt": b"3"}, parent_commit=first.oid)
    assert err.value.response.status_code == 412


def test_errors_carry_the_hub_error_codes(tmp_path, hub, api):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    with pytest.raises(RepositoryNotFoundError):
        api.list_repo_refs("alice/nothing")
    api.create_repo("alice/demo")
    with pytest.raises(RevisionNotFoundError):
        api.model_info("alice/demo", revision="v9")
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(
            "alice/demo",
            "missing.txt",
            endpoint=hub.endpoint,
            token=ALICE,
            local_dir=tmp_path,
        )
    with pytest.raises(ValueError, match="Invalid metadata"):
        _commit(api, "alice/demo", {"README.md": b"---\ntags:\n- x\n"})  # front matter never closed
    with pytest.raises(HfHubHTTPError) as err:
        HfApi(endpoint=hub.endpoint, token=BOB).create_repo("alice/other")
    assert err.value.response.status_code == 403


def test_private_repos_are_hidden_from_others(hub, api):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    api.create_repo("alice/secret", private=True)
    assert api.list_repo_refs("alice/secret").branches
    for token in (BOB, False):
        with pytest.raises(RepositoryNotFoundError):
            HfApi(endpoint=hub.endpoint, token=token).list_repo_refs("alice/secret")
    assert [m.id for m in HfApi(endpoint=hub.endpoint, token=BOB).list_models(author="alice")] == []


def test_listings_are_paginated_with_link_headers_and_nothing_is_truncated(hub_env, no_xet):
    from huggingface_hub import HfApi

    from nnpm.testing import HubServer

    with HubServer(tokens={ALICE: "alice"}, page_size=2) as server:
        api = HfApi(endpoint=server.endpoint, token=ALICE)
        for i in range(5):
            server.commit_files(f"alice/repo-{i}", {"README.md": CARD})
        _commit(api, "alice/repo-0", {f"f{i}.txt": b"x" for i in range(4)})

        assert [m.id for m in api.list_models(author="alice")] == [f"alice/repo-{i}" for i in range(5)]
        assert server.paths_served("GET").count("/api/models") == 3
        assert [m.id for m in api.list_models(author="alice", limit=3)] == [
            f"alice/repo-{i}" for i in range(3)
        ]
        files = sorted(api.list_repo_files("alice/repo-0"))
        assert files == [".gitattributes", "README.md", "f0.txt", "f1.txt", "f2.txt", "f3.txt"]

        first = _get_json(f"{server.endpoint}/api/models?author=alice")
        assert len(first[0]) == 2 and "cursor=2" in first[1]
        last = _get_json(first[1].replace("cursor=2", "cursor=4"))
        assert len(last[0]) == 1 and last[1] is None


def _get_json(url: str) -> tuple[list, str | None]:
    """(the JSON page, the URL of the next page from the Link header or None)."""
    import json
    import re
    import urllib.request

    with urllib.request.urlopen(url) as answer:
        link = re.fullmatch(r'<([^>]+)>; rel="next"', answer.headers.get("Link") or "")
        return json.loads(answer.read()), link.group(1) if link else None


def test_page_size_must_be_positive():
    from nnpm.testing import HubServer

    with pytest.raises(ValueError, match="page_size"):
        HubServer(page_size=0)


def test_lfs_files_are_listed_and_served_as_on_the_hub(tmp_path, hub, api):
    """A file preupload calls "lfs" goes through the batch API; the tree lists its LFS oid and size, and
    the client's metadata call reads its sha256 and size from the X-Linked-* headers."""
    import hashlib

    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    api.create_repo("alice/demo")
    data = bytes(range(256)) * 4
    _commit(api, "alice/demo", {"sub/a.bin": data, "notes.txt": b"hello\n"})
    oid = hashlib.sha256(data).hexdigest()
    assert [(u.oid, u.size) for u in hub.lfs_uploads] == [(oid, len(data))]
    assert hub.repos["alice/demo"].head().lfs == {"sub/a.bin": oid}

    entries = {e.path: e for e in api.list_repo_tree("alice/demo", recursive=True) if hasattr(e, "lfs")}
    assert entries["sub/a.bin"].lfs.sha256 == oid and entries["notes.txt"].lfs is None
    url = hf_hub_url("alice/demo", "sub/a.bin", endpoint=hub.endpoint)
    meta = get_hf_file_metadata(url, token=ALICE)
    assert meta.etag == oid and meta.size == len(data) and meta.xet_file_data is None
    local = hf_hub_download("alice/demo", "sub/a.bin", endpoint=hub.endpoint, token=ALICE, local_dir=tmp_path)
    assert Path(local).read_bytes() == data


def test_xet_is_not_offered(hub, api):
    """No Xet write token and no X-Xet-* header: a client must take the LFS path (nnpm checks this first)."""
    import urllib.error
    import urllib.request

    api.create_repo("alice/demo")
    request = urllib.request.Request(
        f"{hub.endpoint}/api/models/alice/demo/xet-write-token/main",
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request)
    assert err.value.code == 404 and not any(h.lower().startswith("x-xet") for h in err.value.headers)
