"""One nnpm package version as one OCI image manifest (artifactType application/vnd.nnpm.package.v1).

    {
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "artifactType": "application/vnd.nnpm.package.v1",
      "config": {"mediaType": "application/vnd.nnpm.package.manifest.v1+toml",
                 "digest": "sha256:<sha256 of nnpm.toml>", "size": ...},
      "layers": [{"mediaType": "application/vnd.nnpm.package.weights.v1.safetensors",
                  "digest": "sha256:<the file's sha256 in nnpm.toml>", "size": ...,
                  "annotations": {"org.opencontainers.image.title": "weights.safetensors"}}, ...],
      "annotations": {"org.nnpm.package.name": "fmnist/sneaker-module",
                      "org.nnpm.package.version": "1.0.0", "org.nnpm.package.kind": "module",
                      "org.nnpm.package.classes": "[\"Sneaker\"]", ...}
    }

The config blob is nnpm.toml byte for byte, so its digest is the package's sha256 (what
`VersionInfo.sha256` and the lock hold), and a layer's digest is the file's sha256 in
nnpm.toml: blobs are content-addressed, so a file two versions share is one blob. The
schema is registry_schema/oci-manifest.v1.schema.json. The manifest is serialised
deterministically (sorted keys, no timestamps), so publishing the same package twice
builds the same bytes and the same digest.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from nnpm.errors import IntegrityError, ManifestError
from nnpm.package import schema
from nnpm.package.files import check_file_names
from nnpm.package.manifest import FileEntry, Manifest
from nnpm.registry.oci.names import (
    ANNOTATION_PREFIX,
    ARTIFACT_TYPE,
    CONFIG_MEDIA_TYPE,
    FILE_MEDIA_TYPE,
    LAYER_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPE,
    TITLE,
    WEIGHTS_MEDIA_TYPE,
)

_DIGEST_PREFIX = "sha256:"
SCHEMA_FILE = "oci-manifest.v1.schema.json"


@dataclass(frozen=True)
class Blob:
    """A descriptor: what a manifest says one blob is."""

    digest: str
    size: int
    media_type: str

    @property
    def sha256(self) -> str:
        return self.digest.removeprefix(_DIGEST_PREFIX)


@dataclass(frozen=True)
class Artifact:
    """A parsed nnpm OCI manifest: the nnpm.toml blob and one blob per package file (by path)."""

    config: Blob
    files: dict[str, Blob]
    annotations: dict[str, str]

    def check_files(self, manifest: Manifest, where: str) -> None:
        """The layers are exactly nnpm.toml's files, with the same sha256 and size."""
        listed = {rel: (b.sha256, b.size) for rel, b in self.files.items()}
        promised = {rel: (e.sha256, e.size) for rel, e in manifest.files.items()}
        if listed != promised:
            raise IntegrityError(
                "the OCI manifest's layers differ from the files nnpm.toml lists",
                where=where,
                hint="the artifact was not pushed by nnpm or was edited; do not use it",
            )


def layer_media_type(path: str) -> str:
    return WEIGHTS_MEDIA_TYPE if path.endswith(".safetensors") else FILE_MEDIA_TYPE


def build_manifest(manifest: Manifest, config_sha256: str, config_size: int) -> bytes:
    """The OCI manifest bytes of a package version (deterministic)."""
    layers = [
        _descriptor(layer_media_type(rel), e, {TITLE: rel}) for rel, e in sorted(manifest.files.items())
    ]
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": _descriptor(CONFIG_MEDIA_TYPE, FileEntry(config_sha256, config_size)),
        "layers": layers,
        "annotations": annotations(manifest),
    }
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def annotations(manifest: Manifest) -> dict[str, str]:
    """Name, version, kind, classes and description, for registry UIs and tools other than nnpm."""
    values = {
        "name": str(manifest.name),
        "version": str(manifest.version),
        "kind": manifest.kind,
        "classes": json.dumps(list(manifest.source.classes), ensure_ascii=False),
        "description": manifest.description,
    }
    return {ANNOTATION_PREFIX + k: v for k, v in values.items() if v}


def _descriptor(media_type: str, entry: FileEntry, notes: dict[str, str] | None = None) -> dict:
    out = {"mediaType": media_type, "digest": _DIGEST_PREFIX + entry.sha256, "size": entry.size}
    if notes:
        out["annotations"] = notes
    return out


def parse_manifest(data: bytes, *, where: str) -> Artifact:
    """Parse an nnpm OCI manifest; anything else (a container image, a hostile document) is refused."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ManifestError("the OCI manifest is not JSON", where=where, hint=_NOT_OURS) from None
    _validate(doc, where)
    if doc.get("artifactType") != ARTIFACT_TYPE or doc["config"]["mediaType"] != CONFIG_MEDIA_TYPE:
        raise ManifestError(
            f"not an nnpm package (artifactType {doc.get('artifactType')!r})", where=where, hint=_NOT_OURS
        )
    files: dict[str, Blob] = {}
    for layer in doc["layers"]:
        title = layer.get("annotations", {}).get(TITLE)
        if layer["mediaType"] not in LAYER_MEDIA_TYPES or not isinstance(title, str) or title in files:
            raise ManifestError(
                f"layer {layer['digest']} has no nnpm media type or a missing or repeated title",
                where=where,
                hint=_NOT_OURS,
            )
        files[title] = _blob(layer)
    check_file_names(files, where=where)
    return Artifact(_blob(doc["config"]), files, dict(doc.get("annotations", {})))


@functools.cache
def _validator():
    """The validator of registry_schema/oci-manifest.v1.schema.json (not in nnpm.package.schema's
    table, which names nnpm's own files; this one describes what nnpm pushes to OCI registries)."""
    import jsonschema

    doc = json.loads((schema.schema_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(doc)
    cls.check_schema(doc)
    return cls(doc)


def _validate(doc: object, where: str) -> None:
    import jsonschema

    schema.check_document(doc, where=where)
    error = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if error is not None:
        raise ManifestError(schema.describe(error), where=where, hint=_NOT_OURS)


def _blob(descriptor: dict) -> Blob:
    return Blob(descriptor["digest"], int(descriptor["size"]), descriptor["mediaType"])


_NOT_OURS = (
    "the tag holds something nnpm did not publish; publish packages with `nnpm publish --registry NAME`"
)
