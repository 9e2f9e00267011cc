"""Writing a package directory from a torch module: what trainers and extractors call."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from nnpm.fsutil import atomic_write_text, file_mode
from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.package.pack import pack

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "weights.safetensors"


def write_package(directory: Path, manifest: Manifest, tensors: Mapping[str, torch.Tensor]) -> Manifest:
    """Save `tensors` as safetensors beside the manifest (none if empty), then pack (card, hashes, shape check)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if tensors:
        tmp = directory / f".{WEIGHTS_FILE}.tmp"
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
        tmp.chmod(file_mode())
        tmp.replace(directory / WEIGHTS_FILE)
    else:  # e.g. a composite that adds nothing: a package holds only what it adds
        (directory / WEIGHTS_FILE).unlink(missing_ok=True)
    atomic_write_text(directory / MANIFEST_NAME, manifest.with_files({}).to_toml())
    return pack(directory)
