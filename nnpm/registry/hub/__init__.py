"""A Hugging Face Hub namespace as an nnpm registry (`hf://<namespace>`); docs/hub.md.

One Hub model repo per package (`fmnist/sneaker-module` in `hf://my-org` is
`my-org/fmnist__sneaker-module`), one `v<version>` tag per version, one commit per
publish. The package is split along its seams:

- `names`: repo ids, version tags and `hf://` URLs (pure, no network);
- `http`: how requests are made (offline refusal, retries with backoff, timeouts)
  and how the client's exceptions become typed nnpm errors;
- `download`: downloads bounded by the declared size and by a deadline derived from it;
- `secrets`: every token nnpm can know of, redacted from errors and log lines;
- `registry`: `HubRegistry`, reading and publishing.

Everything public is re-exported here, so `from nnpm.registry.hub import HubRegistry,
repo_id_for, parse_hub_requirement, set_request_timeout, ...` keeps working.
`huggingface_hub` is imported inside functions, so importing this package is cheap.
"""

from __future__ import annotations

from nnpm.registry.hub.download import HubDeadlineError
from nnpm.registry.hub.http import (
    LOGIN_HINT,
    HubCaller,
    HubFileNotFoundError,
    is_transient,
    set_request_timeout,
)
from nnpm.registry.hub.names import (
    MAX_REPO_NAME,
    NNPM_TAG,
    SCHEME,
    SEPARATOR,
    TAG_PREFIX,
    package_name_for,
    parse_hub_requirement,
    parse_hub_url,
    repo_id_for,
    repo_name_for,
    tag_for,
    version_from_tag,
)
from nnpm.registry.hub.registry import HubRegistry

__all__ = [
    "LOGIN_HINT",
    "MAX_REPO_NAME",
    "NNPM_TAG",
    "SCHEME",
    "SEPARATOR",
    "TAG_PREFIX",
    "HubCaller",
    "HubDeadlineError",
    "HubFileNotFoundError",
    "HubRegistry",
    "is_transient",
    "package_name_for",
    "parse_hub_requirement",
    "parse_hub_url",
    "repo_id_for",
    "repo_name_for",
    "set_request_timeout",
    "tag_for",
    "version_from_tag",
]
