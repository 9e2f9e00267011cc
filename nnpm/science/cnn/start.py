"""Starting modularization from weights a user already trained (`nnpm modularize cnn --from`).

Accepted: an nnpm CNN model package directory (kind model, no mask generators: the standard
network of its family), hash-checked and built by the one loader; or a safetensors state dict in
nnpm's own layout for `--arch` and `--width` (keys `convs.<conv>.conv.weight`, `convs.<conv>.bn.*`,
`fc.<j>.weight`/`bias`: what `CNN.state_dict()` of an ungated network holds; `num_batches_tracked`
may be absent). No other layout is guessed: a key or shape that does not fit is one clear error.
A package keeps its own input normalisation; a bare state dict uses the data's training statistics.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from nnpm.errors import InvalidInputError
from nnpm.fsutil import hash_file
from nnpm.nn.cnn.model import CNN, build_cnn
from nnpm.nn.cnn.spec import FAMILY_NAMES, cnn_shapes
from nnpm.package.manifest import MANIFEST_NAME, Architecture
from nnpm.package.weights import read_header
from nnpm.science.cnn.train import METHODS


@dataclass(frozen=True)
class StartingPoint:
    """Trained weights of a standard network, and where they came from (recorded in provenance)."""

    arch: Architecture  # the standard (ungated) network the weights fit
    state: dict[str, torch.Tensor]
    origin: str  # "package ns/name==1.0.0" or "state dict <file name>"
    sha256: str  # the package's manifest digest, or the state dict file's

    def standard_model(self) -> CNN:
        model = build_cnn(self.arch)
        model.load_state_dict(self.state)
        return model.eval()

    def provenance(self) -> dict[str, str]:
        return {"from": self.origin, "from_sha256": self.sha256}


def load_start(path: Path, standard_arch: Architecture) -> StartingPoint:
    """The weights at `path` for a run whose standard network would be `standard_arch` (family, width
    and input from the command line and the data); a package's own spec must agree with it."""
    path = Path(path)
    if (path / MANIFEST_NAME).is_file():
        return _from_package(path, standard_arch)
    if _regular_file(path) and path.suffix == ".safetensors":
        return _from_state_dict(path, standard_arch)
    raise InvalidInputError(
        f"{path} is neither an nnpm model package folder nor a .safetensors file",
        where="--from",
        hint="give a model package folder (with nnpm.toml) or a safetensors state dict in nnpm's layout",
    )


def _regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _from_package(path: Path, standard_arch: Architecture) -> StartingPoint:
    from nnpm.science.cnn.packaging import load_package

    manifest, model = load_package(path)
    arch = manifest.architecture
    label = f"package {manifest.name}=={manifest.version}"
    if manifest.kind != "model" or arch is None or arch.family not in FAMILY_NAMES:
        raise InvalidInputError(f"{label} is a {manifest.kind}, not a CNN model", where="--from",
                                hint="start from a CNN model package (kind model)")  # fmt: skip
    if arch.params.get("gated") or arch.retained or manifest.source.method in METHODS:
        raise InvalidInputError(f"{label} is already modular ({manifest.source.method}), so it is no baseline",
                                where="--from", hint="start from a standard model, e.g. <namespace>/<arch>-standard")  # fmt: skip
    _agree(label, arch, standard_arch)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return StartingPoint(arch, state, label, manifest.digest())


def _agree(label: str, arch: Architecture, wanted: Architecture) -> None:
    checks = (
        ("architecture", arch.family, wanted.family, "--arch"),
        ("width", float(arch.params["width"]), float(wanted.params["width"]), "--width"),
        ("input shape", tuple(arch.input.shape), tuple(wanted.input.shape), "--dataset"),
        ("classes", int(arch.params["num_classes"]), int(wanted.params["num_classes"]), "--dataset"),
        ("padding", int(arch.params.get("pad", 0)), int(wanted.params.get("pad", 0)), "--pad"),
        ("resize", int(arch.params.get("resize", 0)), int(wanted.params.get("resize", 0)), "--resize"),
    )
    for what, have, want, option in checks:
        if have != want:
            raise InvalidInputError(f"{label} has {what} {have}, this run {want}", where="--from",
                                    hint=f"give {option} as the model was trained, or start from another model")  # fmt: skip


def _from_state_dict(path: Path, arch: Architecture) -> StartingPoint:
    from safetensors.torch import load_file

    header = read_header(path)  # nnpm's strict header check before the library reads a byte of data
    expected = {k: s for k, s in cnn_shapes(arch).items() if not k.endswith("num_batches_tracked")}
    optional = set(cnn_shapes(arch)) - set(expected)
    unexpected = sorted(set(header) - set(expected) - optional)
    missing = sorted(set(expected) - set(header))
    where = f"--from {path.name}"
    hint = f"the keys of nnpm's {arch.family} (width {arch.params['width']}) are those of CNN.state_dict(); see docs/cnn.md"
    if unexpected or missing:
        first = f"unexpected key {unexpected[0]!r}" if unexpected else f"missing key {missing[0]!r}"
        raise InvalidInputError(f"{first} ({len(unexpected)} unexpected, {len(missing)} missing)", where=where,
                                hint=hint)  # fmt: skip
    for key, shape in expected.items():
        if tuple(header[key].shape) != tuple(shape):
            raise InvalidInputError(f"{key} has shape {list(header[key].shape)}, {arch.family} width "
                                    f"{arch.params['width']} needs {list(shape)}", where=where, hint=hint)  # fmt: skip
    state = load_file(str(path))
    for key in optional - set(state):
        state[key] = torch.zeros((), dtype=torch.long)
    digest, _ = hash_file(path)
    return StartingPoint(replace(arch), state, f"state dict {path.name}", digest)
