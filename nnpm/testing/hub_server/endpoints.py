"""The Hub API endpoints `HubServer` answers (model repos only), as the `huggingface_hub` client calls them.

    GET    /api/whoami-v2                              who the Bearer token belongs to
    POST   /api/repos/create                           create a repo (409 when it exists)
    POST   /api/repos/delete                           delete a repo
    POST   /api/validate-yaml                          check a README's YAML front matter
    GET    /api/models                                 listing: author=, search=, filter= (tags), limit=; paginated
    GET    /api/models/{repo}[/revision/{rev}]         repo info: sha, tags, siblings, cardData
    GET    /api/models/{repo}/refs                     branches and tags with their commit shas
    GET    /api/models/{repo}/tree/{rev}[/{path}]      files (recursive=true) with size and oid; paginated
    POST   /api/models/{repo}/preupload/{rev}          uploadMode "lfs" or "regular" per file (uploads.py), oid
    POST   /api/models/{repo}/commit/{rev}             NDJSON: header, file (base64), lfsFile, deletedFile/Folder
    GET    /api/models/{repo}/xet-write-token/{rev}    404: no Xet storage here (no X-Xet-* headers)
    POST   /api/models/{repo}/tag/{rev}                create a tag (409 when it exists)
    DELETE /api/models/{repo}/tag/{tag}                delete a tag
    HEAD   /{repo}/resolve/{rev}/{path}                X-Repo-Commit, ETag, Content-Length (+ X-Linked-* for LFS)
    GET    /{repo}/resolve/{rev}/{path}                the bytes (Range: bytes=N- supported)

plus the LFS batch, upload and verify endpoints of lfs.py. A file that preupload calls "lfs"
must come through LFS: an inline `file` line for it is refused as the Hub refuses it, and an
`lfsFile` line is accepted only for an object already in the repo's LFS storage.

Each handler takes the parsed query string and the route's groups; it answers with
`send_json` / `send_page` / `send`, or raises HubError.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

from nnpm.testing.hub_server.lfs import LFS_ROUTES, LfsEndpoints
from nnpm.testing.hub_server.model import (
    DEFAULT_BRANCH,
    REPO_ID,
    REPO_PART,
    Commit,
    HubError,
    front_matter,
    git_blob_sha1,
    repo_not_found,
    revision_not_found,
)
from nnpm.testing.hub_server.uploads import MISSING_OBJECT, pointer, refusal, upload_mode

_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_FOLDER = {"type": "directory", "oid": "0" * 40, "size": 0}


def _first(query: dict[str, list[str]], key: str, default: str = "") -> str:
    return (query.get(key) or [default])[0]


class Endpoints(LfsEndpoints):
    ROUTES = (
        *LFS_ROUTES,
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/repos/create", "create_repo"),
        ("POST", r"/api/repos/delete", "delete_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", r"/api/models", "list_models"),
        ("GET", rf"/api/models/({REPO_ID})/refs", "refs"),
        ("GET", rf"/api/models/({REPO_ID})/tree/([^/]+)(/.*)?", "tree"),
        ("POST", rf"/api/models/({REPO_ID})/preupload/([^/]+)", "preupload"),
        ("POST", rf"/api/models/({REPO_ID})/commit/([^/]+)", "commit"),
        ("POST", rf"/api/models/({REPO_ID})/tag/([^/]+)", "create_tag"),
        ("DELETE", rf"/api/models/({REPO_ID})/tag/([^/]+)", "delete_tag"),
        ("GET", rf"/api/models/({REPO_ID})/xet-(?:read|write)-token/([^/]+)", "xet_token"),
        ("GET", rf"/api/models/({REPO_ID})/revision/([^/]+)", "model_info"),
        ("GET", rf"/api/models/({REPO_ID})", "model_info"),
        ("GET", rf"/({REPO_ID})/resolve/([^/]+)/(.+)", "resolve"),
        ("HEAD", rf"/({REPO_ID})/resolve/([^/]+)/(.+)", "resolve"),
    )

    # --- account and repos -----------------------------------------------------------------

    def whoami(self, query) -> None:
        user = self.user
        if user is None:
            raise HubError(401, "You must be authenticated to access this resource")
        orgs = [
            {"name": org, "type": "org"} for org, members in sorted(self.hub.orgs.items()) if user in members
        ]
        auth = {"type": "access_token", "accessToken": {"role": "write"}}
        self.send_json(200, {"type": "user", "name": user, "orgs": orgs, "auth": auth})

    def create_repo(self, query) -> None:
        doc = self.json_body()
        user = self.user
        name = doc.get("name") or ""
        namespace = doc.get("organization") or user
        if doc.get("type") not in (None, "model"):
            raise HubError(400, "this test server only hosts model repos")
        if not namespace or not re.fullmatch(REPO_PART, name) or len(name) > 96:
            raise HubError(400, f"invalid repo name {name!r}")
        self.hub.may_write(user, namespace)
        repo_id = f"{namespace}/{name}"
        url = f"{self.hub.endpoint}/{repo_id}"
        with self.hub.lock:
            if repo_id in self.hub.repos:
                raise HubError(409, "You already created this model repo", url=url)
            private = bool(doc.get("private")) or doc.get("visibility") == "private"
            self.hub.create_repo(repo_id, private=private)
        self.send_json(200, {"url": url, "name": repo_id, "id": repo_id})

    def delete_repo(self, query) -> None:
        doc = self.json_body()
        user = self.user
        repo_id = f"{doc.get('organization') or user}/{doc.get('name')}"
        self.hub.may_write(user, repo_id.split("/")[0])
        with self.hub.lock:
            if self.hub.repos.pop(repo_id, None) is None:
                raise repo_not_found()
        self.send_json(200, {})

    def validate_yaml(self, query) -> None:
        doc = self.json_body()
        self.user  # noqa: B018 - an unknown token is refused, as on the Hub
        try:
            front_matter(doc.get("content") or "")
        except ValueError as exc:
            self.send_json(400, {"errors": [{"message": str(exc)}], "warnings": []})
            return
        self.send_json(200, {"errors": [], "warnings": []})

    # --- reading ---------------------------------------------------------------------------

    def list_models(self, query) -> None:
        user, author = self.user, _first(query, "author") or None
        search, filters = _first(query, "search").lower(), query.get("filter") or []
        found = []
        with self.hub.lock:
            for repo_id, repo in sorted(self.hub.repos.items()):
                try:
                    self.hub.readable(user, repo_id)
                except HubError:
                    continue
                if (author and repo.author != author) or (search and search not in repo_id.lower()):
                    continue
                info = self.hub.info(repo, repo.head(), siblings=False)
                if all(f in info["tags"] or f == info["library_name"] for f in filters):
                    found.append(info)
        self.send_page(found, query, limit=int(_first(query, "limit", "0") or 0))

    def model_info(self, query, repo_id: str, revision: str = DEFAULT_BRANCH) -> None:
        repo, commit = self.hub.commit_at(self.user, repo_id, revision)
        self.send_json(200, self.hub.info(repo, commit, siblings=True))

    def refs(self, query, repo_id: str) -> None:
        with self.hub.lock:
            repo = self.hub.readable(self.user, repo_id)
            doc = {
                "branches": _refs("heads", repo.branches),
                "converts": [],
                "tags": _refs("tags", repo.tags),
                "pullRequests": [],
            }
        self.send_json(200, doc)

    def tree(self, query, repo_id: str, revision: str, sub: str | None) -> None:
        _, commit = self.hub.commit_at(self.user, repo_id, revision)
        prefix = (sub or "").strip("/")
        recursive = _first(query, "recursive", "false").lower() in {"1", "true"}
        entries = _tree(commit, prefix, recursive)
        if prefix and not entries:
            raise HubError(404, f"{prefix} does not exist on {revision}", "EntryNotFound")
        self.send_page(list(entries.values()), query)

    def resolve(self, query, repo_id: str, revision: str, path: str) -> None:
        _, commit = self.hub.commit_at(self.user, repo_id, revision)
        data = commit.files.get(path)
        if data is None:
            err = HubError(404, "Entry not found", "EntryNotFound")
            self.send_error_json(err, {"X-Repo-Commit": commit.sha})
            return
        oid = commit.lfs.get(path)
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{oid or git_blob_sha1(data)}"',
            # an LFS file: the client reads its sha256 and size from the X-Linked-* headers, as on the Hub
            **({"X-Linked-Etag": f'"{oid}"', "X-Linked-Size": str(len(data))} if oid else {}),
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
        }
        status = 200
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and self.command == "GET":
            start = int(match.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            data, status = data[start:], 206
        self.send(status, data, headers, content_type="application/octet-stream")

    def xet_token(self, query, repo_id: str, revision: str) -> None:
        """The Hub hands out Xet connection headers here; this server stores files in LFS only, so a
        client must take the LFS path (nnpm asks here first; the bare client needs HF_HUB_DISABLE_XET=1)."""
        with self.hub.lock:
            self.hub.readable(self.user, repo_id)
        raise HubError(
            404, "this server does not offer Xet storage: upload through LFS (HF_HUB_DISABLE_XET=1)"
        )

    # --- writing ---------------------------------------------------------------------------

    def preupload(self, query, repo_id: str, revision: str) -> None:
        doc = self.json_body()
        repo = self.hub.writable(self.user, repo_id)
        with self.hub.lock:
            commit = repo.resolve(revision)
        gitattributes = commit.files.get(".gitattributes") if commit else None
        files = []
        for item in doc.get("files", []):
            path, size, sample = _preupload_item(item)
            existing = commit.files.get(path) if commit else None
            # the client compares this with its own oid: sha256 for an LFS file, git sha1 for a regular one
            oid = (commit.lfs.get(path) or git_blob_sha1(existing)) if existing is not None else None
            mode = upload_mode(path, size, sample, gitattributes)
            files.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        self.send_json(200, {"files": files, "commitOid": commit.sha if commit else None})

    def commit(self, query, repo_id: str, revision: str) -> None:
        raw = self.body()
        repo = self.hub.writable(self.user, repo_id)
        if query.get("create_pr"):
            raise HubError(400, "this test server does not support pull requests")
        header, added, pointers, deleted = _parse_commit(raw)
        with self.hub.lock:
            if revision not in repo.branches:
                raise revision_not_found(revision)
            parent = header.get("parentCommit")
            if parent and parent != repo.branches[revision]:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            head = repo.commits[repo.branches[revision]]
            gitattributes = added.get(".gitattributes", head.files.get(".gitattributes"))
            for path, data in added.items():
                why = refusal(path, data, gitattributes)
                if why:
                    raise HubError(400, why)
            lfs = {}
            for path, (oid, size) in pointers.items():
                stored = repo.lfs_objects.get(oid)
                if stored is None or (size is not None and size != len(stored)):
                    raise HubError(400, MISSING_OBJECT.format(paths=path))
                added[path], lfs[path] = stored, oid
            sha = self.hub.commit(repo, revision, header["summary"], added, deleted, lfs)
        url = f"{self.hub.endpoint}/{repo_id}/commit/{sha}"
        self.send_json(200, {"success": True, "commitOid": sha, "commitUrl": url, "pullRequestUrl": None})

    def create_tag(self, query, repo_id: str, revision: str) -> None:
        doc = self.json_body()
        repo = self.hub.writable(self.user, repo_id)
        tag = doc.get("tag") or ""
        if not _TAG.fullmatch(tag):
            raise HubError(400, f"invalid tag name {tag!r}")
        with self.hub.lock:
            commit = repo.resolve(revision)
            if commit is None:
                raise revision_not_found(revision)
            if tag in repo.tags:
                raise HubError(409, f"Tag {tag} already exists")
            repo.tags[tag] = commit.sha
        self.send_json(200, {})

    def delete_tag(self, query, repo_id: str, tag: str) -> None:
        repo = self.hub.writable(self.user, repo_id)
        with self.hub.lock:
            if repo.tags.pop(tag, None) is None:
                raise revision_not_found(tag)
        self.send_json(200, {})


def _refs(kind: str, table: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": s} for n, s in sorted(table.items())]


def _preupload_item(item: Any) -> tuple[str, int, bytes]:
    """(path, size, sample) of one file a preupload request asks about; 400 when malformed."""
    try:
        path, size = item["path"], int(item.get("size") or 0)
        sample = base64.b64decode(item.get("sample") or "", validate=True)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise HubError(
            400, "malformed preupload payload: each file needs a path, a size and a sample"
        ) from None
    return path, size, sample


def _tree(commit: Commit, prefix: str, recursive: bool) -> dict[str, dict[str, Any]]:
    """The entries under `prefix`: files with git oid and size (and `lfs` for LFS files), and their
    folders, as the Hub lists them."""
    files = commit.files
    entries: dict[str, dict[str, Any]] = {}
    depth = len(prefix.split("/")) if prefix else 0
    for path, data in sorted(files.items()):
        if prefix and not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix) + 1 :] if prefix else path
        if not recursive and "/" in rest:
            folder = f"{prefix}/{rest.split('/')[0]}" if prefix else rest.split("/")[0]
            entries.setdefault(folder, {**_FOLDER, "path": folder})
            continue
        if recursive:
            parts = path.split("/")
            for i in range(depth, len(parts) - 1):
                folder = "/".join(parts[: i + 1])
                entries.setdefault(folder, {**_FOLDER, "path": folder})
        entry = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}
        oid = commit.lfs.get(path)
        if oid:
            ptr = pointer(oid, len(data))
            entry["oid"] = git_blob_sha1(ptr)
            entry["lfs"] = {"oid": oid, "size": len(data), "pointerSize": len(ptr)}
        entries[path] = entry
    return entries


def _parse_commit(
    raw: bytes,
) -> tuple[dict[str, Any], dict[str, bytes], dict[str, tuple[str, int | None]], set[str]]:
    """The NDJSON commit payload: (header, inline path -> bytes, LFS path -> (oid, size or None),
    deleted paths); 400 on anything else."""
    header: dict[str, Any] = {}
    added: dict[str, bytes] = {}
    pointers: dict[str, tuple[str, int | None]] = {}
    deleted: set[str] = set()
    try:
        for line in raw.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, "file content must be base64-encoded")
                added[value["path"]] = base64.b64decode(value["content"], validate=True)
            elif key in {"deletedFile", "deletedFolder"}:
                deleted.add(value["path"])
            elif key == "lfsFile":
                if value.get("algo", "sha256") != "sha256":
                    raise HubError(400, "LFS files are named by their sha256")
                size = value.get("size")
                pointers[value["path"]] = (str(value["oid"]), None if size is None else int(size))
            else:
                raise HubError(400, f"unknown commit operation {key!r}")
    except (ValueError, KeyError, TypeError):
        raise HubError(400, "malformed NDJSON commit payload") from None
    if not header.get("summary"):
        raise HubError(400, "the commit header needs a summary")
    for path in [*added, *pointers]:
        if path.startswith("/") or ".." in path.split("/"):
            raise HubError(400, f"invalid path {path!r}")
    return header, added, pointers, deleted
