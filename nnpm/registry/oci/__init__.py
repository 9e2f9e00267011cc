"""An OCI registry as an nnpm registry (`oci://host[:port]/namespace-path`); docs/registry.md.

One OCI repository per package, one tag per version, one OCI image manifest per version
(artifactType `application/vnd.nnpm.package.v1`): nnpm.toml is the config blob, each
package file one layer titled with its path. The package is split along its seams:

- `names`: URLs, repositories, tags and media types (pure, no network);
- `auth`: where credentials come from, and WWW-Authenticate challenges;
- `client`: the OCI distribution API over `requests` (auth, retries, verified reads);
- `artifact`: an nnpm package version as an OCI manifest, built and parsed;
- `registry`: `OciRegistry`, reading and publishing.

`requests` is imported on first use, so importing this package is cheap.
"""

from __future__ import annotations

from nnpm.registry.oci.artifact import Artifact, build_manifest, parse_manifest
from nnpm.registry.oci.auth import Credentials, find_credentials
from nnpm.registry.oci.client import OciClient, TransferStats
from nnpm.registry.oci.names import (
    ARTIFACT_TYPE,
    CONFIG_MEDIA_TYPE,
    FILE_MEDIA_TYPE,
    SCHEME,
    WEIGHTS_MEDIA_TYPE,
    OciLocation,
    parse_oci_url,
    tag_for,
    version_from_tag,
)
from nnpm.registry.oci.registry import OciRegistry

__all__ = [
    "ARTIFACT_TYPE",
    "CONFIG_MEDIA_TYPE",
    "FILE_MEDIA_TYPE",
    "SCHEME",
    "WEIGHTS_MEDIA_TYPE",
    "Artifact",
    "Credentials",
    "OciClient",
    "OciLocation",
    "OciRegistry",
    "TransferStats",
    "build_manifest",
    "find_credentials",
    "parse_manifest",
    "parse_oci_url",
    "tag_for",
    "version_from_tag",
]
