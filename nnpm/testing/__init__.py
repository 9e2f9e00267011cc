"""Test helpers that nnpm ships for its own suite and for users' pipelines.

`nnpm.testing.hub_server.HubServer` is a small, real HTTP server on loopback that
speaks the part of the Hugging Face Hub API that `huggingface_hub` uses to publish
and install nnpm packages, so a pipeline can be tested end to end without the
network::

    from nnpm.testing import HubServer

    with HubServer(tokens={"hf_test": "alice"}) as server:
        registry = HubRegistry("hub", "hf://alice", endpoint=server.endpoint, token="hf_test")
        ...

See docs/hub.md ("The test server"). `nnpm.testing.oci_registry.docker_registry` starts a real
OCI registry (Debian's `docker-registry`) on loopback the same way, for tests of `oci://` registries.
"""

from __future__ import annotations

from nnpm.testing.hub_server import HubServer

__all__ = ["HubServer"]
