"""The LFS upload path of `HubServer`: the git-lfs batch API, the upload and the verify endpoints.

    POST /{repo}.git/info/lfs/objects/batch     which objects to upload: actions, or none when present
    PUT  /lfs-storage/{oid}?ticket=...          the bytes of one object (single part, "basic" transfer)
    POST /{repo}.git/info/lfs/objects/verify    is the object stored, with that size?

This is the path `huggingface_hub` takes for a file that `preupload` answered "lfs" when it
does not use Xet (`CommitOperationAdd` -> `post_lfs_batch_info` -> `lfs_upload`): the batch API
(git-lfs protocol, `application/vnd.git-lfs+json`) hands out an upload URL per missing object,
the client PUTs the bytes there without its token (on huggingface.co the URL is a presigned
storage URL, here a one-use ticket in the URL plays its part), then asks `verify`; the commit
then names the object by oid and size in an `lfsFile` line, and the commit endpoint accepts it
only if the object is in the repo's storage.

The upload endpoint hashes what it receives and refuses bytes whose sha256 or size is not the
object's, so a client (or a test) cannot store an object under another object's oid. Multipart
uploads (the batch answer's `chunk_size` header) are not offered: the client then uses one PUT,
whatever the size. Each accepted object is appended to `HubServer.lfs_uploads`, and each object
the batch API was asked about to `HubServer.lfs_batches` ("upload" or "present"), so a test sees
which bytes travelled through LFS and which were already there.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from nnpm.testing.hub_server.http import HubHandler
from nnpm.testing.hub_server.model import REPO_ID, HubError, LfsUpload, repo_not_found
from nnpm.testing.hub_server.uploads import sha256_hex

LFS_JSON = "application/vnd.git-lfs+json"
#: how long an upload URL is said to be valid (the Hub's presigned URLs last about this long)
UPLOAD_URL_SECONDS = 900
_OID = re.compile(r"[0-9a-f]{64}")

LFS_ROUTES = (
    ("POST", rf"/({REPO_ID})\.git/info/lfs/objects/batch", "lfs_batch"),
    ("POST", rf"/({REPO_ID})\.git/info/lfs/objects/verify", "lfs_verify"),
    ("PUT", r"/lfs-storage/([0-9a-f]{64})", "lfs_upload"),
)


def _object_error(item: Any, message: str) -> dict[str, Any]:
    """A per-object error of the batch answer (git-lfs: the request as a whole still succeeds)."""
    oid = item.get("oid") if isinstance(item, dict) else None
    size = item.get("size") if isinstance(item, dict) else None
    return {
        "oid": oid if isinstance(oid, str) else "",
        "size": size if isinstance(size, int) else 0,
        "error": {"code": 422, "message": message},
    }


class LfsEndpoints(HubHandler):
    """The routes in LFS_ROUTES; `Endpoints` (endpoints.py) inherits them."""

    def lfs_batch(self, query, repo_id: str) -> None:
        doc = self.json_body()
        repo = self.hub.writable(self.user, repo_id)
        if doc.get("operation") != "upload":
            raise HubError(422, "this test server's LFS batch API serves uploads only")
        if "basic" not in (doc.get("transfers") or ["basic"]):
            raise HubError(422, "no common transfer adapter: this server offers 'basic' only")
        if doc.get("hash_algo", "sha256") != "sha256":
            raise HubError(422, "unsupported hash algorithm: use sha256")
        if not isinstance(doc.get("objects"), list):
            raise HubError(422, "the batch request needs a list of objects")
        expires = (datetime.now(UTC) + timedelta(seconds=UPLOAD_URL_SECONDS)).strftime("%Y-%m-%dT%H:%M:%SZ")
        answers = []
        with self.hub.lock:
            for item in doc["objects"]:
                oid = item.get("oid") if isinstance(item, dict) else None
                size = item.get("size") if isinstance(item, dict) else None
                if not (isinstance(oid, str) and _OID.fullmatch(oid)):
                    answers.append(_object_error(item, "the oid must be a lowercase sha256 hex digest"))
                    continue
                if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                    answers.append(_object_error(item, "the size must be a non-negative integer"))
                    continue
                stored = repo.lfs_objects.get(oid)
                if stored is not None and len(stored) == size:
                    self.hub.lfs_batches.append((repo_id, oid, "present"))
                    answers.append({"oid": oid, "size": size})
                    continue
                ticket = secrets.token_urlsafe(16)
                self.hub.lfs_tickets[ticket] = (repo_id, oid, size)
                self.hub.lfs_batches.append((repo_id, oid, "upload"))
                base = f"{self.hub.endpoint}/{repo_id}.git/info/lfs/objects"
                actions = {
                    "upload": {"href": f"{self.hub.endpoint}/lfs-storage/{oid}?ticket={ticket}", "expires_at": expires},
                    "verify": {"href": f"{base}/verify", "expires_at": expires},
                }  # fmt: skip
                answers.append({"oid": oid, "size": size, "authenticated": True, "actions": actions})
        body = json.dumps({"transfer": "basic", "objects": answers, "hash_algo": "sha256"}).encode()
        self.send(200, body, content_type=LFS_JSON)

    def lfs_upload(self, query, oid: str) -> None:
        """Store one object, if the URL's ticket is for it and the bytes hash to its oid and size."""
        ticket = (query.get("ticket") or [""])[0]
        data = self.body()
        with self.hub.lock:
            granted = self.hub.lfs_tickets.get(ticket)
            if granted is None or granted[1] != oid:
                raise HubError(403, "this upload URL is not valid for this object (ask the LFS batch API)")
            repo_id, _, size = granted
            if len(data) != size:
                raise HubError(400, f"size mismatch: the object is {size} bytes, {len(data)} were sent")
            if sha256_hex(data) != oid:
                raise HubError(400, f"sha256 mismatch: the bytes sent do not hash to the oid {oid}")
            repo = self.hub.repos.get(repo_id)
            if repo is None:
                raise repo_not_found()
            repo.lfs_objects[oid] = data
            del self.hub.lfs_tickets[ticket]
            self.hub.lfs_uploads.append(LfsUpload(repo_id, oid, size))
        self.send(200, b"", content_type="text/plain")

    def lfs_verify(self, query, repo_id: str) -> None:
        doc = self.json_body()
        repo = self.hub.writable(self.user, repo_id)
        oid, size = doc.get("oid"), doc.get("size")
        with self.hub.lock:
            stored = repo.lfs_objects.get(oid) if isinstance(oid, str) else None
        if stored is None:
            raise HubError(404, f"LFS object {oid} not found")
        if len(stored) != size:
            raise HubError(422, f"LFS object {oid} is {len(stored)} bytes, not {size}")
        self.send(200, json.dumps({"success": True}).encode(), content_type=LFS_JSON)
