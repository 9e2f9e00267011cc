"""A package's signature (nnpm.sig) in an OCI registry: its own artifact, beside the package's.

    tag sha256-<hex of the package manifest's digest>.sig  ->
    {
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
      "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136f...", "size": 2},
      "layers": [{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                  "digest": "sha256:<of nnpm.sig>", "size": ...,
                  "annotations": {"org.opencontainers.image.title": "nnpm.sig"}}],
      "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "digest": "sha256:<the package manifest>", "size": ...}
    }

The package's own manifest is left as it was, so a package signed after it was published keeps
its manifest digest (the one locks pin). The `subject` field makes the signature a referrer
of the package in registries that implement the OCI 1.1 referrers API; the tag, in the form
cosign uses, finds it in every registry, the CNCF distribution 2.x included.
"""

from __future__ import annotations

import hashlib
import json

from nnpm.errors import SignatureError
from nnpm.registry.oci.names import MANIFEST_MEDIA_TYPE, TITLE

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
#: a Sigstore bundle over a package is a few kilobytes
MAX_SIGNATURE_BYTES = 1 << 20


def signature_tag(manifest_digest: str) -> str:
    return manifest_digest.replace(":", "-") + ".sig"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_signature_manifest(signature: bytes, subject_digest: str, subject_size: int) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": _digest(EMPTY), "size": len(EMPTY)},
        "layers": [
            {
                "mediaType": BUNDLE_MEDIA_TYPE,
                "digest": _digest(signature),
                "size": len(signature),
                "annotations": {TITLE: "nnpm.sig"},
            }
        ],
        "subject": {"mediaType": MANIFEST_MEDIA_TYPE, "digest": subject_digest, "size": subject_size},
    }
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")


def signature_layer(data: bytes, subject_digest: str, *, where: str) -> tuple[str, int]:
    """(digest, size) of the bundle a signature manifest holds, checked to sign `subject_digest`."""
    try:
        doc = json.loads(data.decode("utf-8"))
        (layer,) = doc["layers"]
        ok = (
            doc.get("artifactType") == BUNDLE_MEDIA_TYPE
            and doc["subject"]["digest"] == subject_digest
            and layer["mediaType"] == BUNDLE_MEDIA_TYPE
            and isinstance(layer["digest"], str)
            and layer["digest"].startswith("sha256:")
            and isinstance(layer["size"], int)
            and 0 < layer["size"] <= MAX_SIGNATURE_BYTES
        )
    except (UnicodeDecodeError, ValueError, RecursionError, KeyError, TypeError):
        ok = False
    if not ok:
        raise SignatureError(
            "the signature tag holds no nnpm signature of this version",
            where=where,
            hint="the tag was not pushed by nnpm; ask the publisher to sign and publish again",
        )
    return layer["digest"], layer["size"]
