"""`PackageDetails`: what `Client.show` returns about one package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from nnpm.package.manifest import Manifest
from nnpm.registry.base import VersionInfo


@dataclass(frozen=True)
class PackageDetails:
    """What `show` knows: every published version and one version's manifest.

    For a package directory (`show("./dir")`) `registry` is None, `versions` is empty and
    `directory` is where the manifest was read."""

    registry: str | None
    versions: tuple[VersionInfo, ...]
    manifest: Manifest
    installed: tuple[Version, ...]
    directory: Path | None = None

    @property
    def forward(self) -> dict[str, str | int] | None:
        """How a composite runs (None for other kinds): `mode` is "routed" (each request to the module
        serving its language), "fused" (one pass over the union of kernels of `fused_source` when it
        is installed, else batched) or "batched" (each module on the batch); `modules` counts them;
        `rule` is how classes are compared: "argmax-calibrated" (the modules' calibrated scores),
        "union-restricted" (the union network's logits restricted to the composite's classes) or
        "route-by-language"."""
        m = self.manifest
        if m.kind != "composite" or m.architecture is None:
            return None
        params = m.architecture.params
        modules, rule = len(params.get("modules", [])), str(params.get("rule", "argmax-calibrated"))
        if rule == "route-by-language":
            return {"mode": "routed", "modules": modules, "rule": rule}
        if params.get("forward") == "fused":
            return {
                "mode": "fused",
                "modules": modules,
                "fused_source": str(params["fused_source"]),
                "rule": rule,
            }
        return {"mode": "batched", "modules": modules, "rule": rule}
