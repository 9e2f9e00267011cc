"""RNN networks as nnpm packages: the embedding (with vocab.json), the model, and its modules.

A model and every module taken from it depend on the embedding package by exact version and
manifest sha256; a module also depends on its source model the same way. Modules are
interchangeable exactly when their embeddings are the same package: `check_embeddings` refuses
anything else and names the clashing embeddings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from nnpm.errors import CompositionError
from nnpm.package.manifest import (
    Accuracy,
    Architecture,
    Dependency,
    InputSpec,
    Manifest,
    Metrics,
    Source,
)
from nnpm.package.naming import PackageName

DEFAULT_VERSION = "1.0.0"
METHOD = "rnn-decompose"
_SLUGS = {".": "punct", ",": "comma", "?": "question", "!": "exclamation"}


def slug(label: str) -> str:
    """A class or language as a package-name part: 'ADJ' -> 'adj', '.' -> 'punct', 'pt_BR' -> 'pt-br'."""
    if label in _SLUGS:
        return _SLUGS[label]
    text = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return text or "class-" + "-".join(str(ord(ch)) for ch in label)


def pin(manifest: Manifest) -> Dependency:
    """An exact dependency on `manifest`: ==version and the sha256 of its manifest."""
    return Dependency(manifest.name, SpecifierSet(f"=={manifest.version}"), sha256=manifest.digest())


def embedding_manifest(name: str, *, vocab_size: int, dim: int, max_len: int, dataset: str,
                       provenance: Mapping[str, Any], version: str = DEFAULT_VERSION,
                       tokenizer: Mapping[str, str] | None = None) -> Manifest:  # fmt: skip
    """tokenizer: how text became the vocabulary's tokens (`case`, `tokens`, `normalization`; see
    nnpm.datasets.tokenize), kept in architecture.params so a model and its modules tokenize alike."""
    return Manifest(
        name=PackageName.parse(name),
        version=Version(version),
        kind="embedding",
        description=f"token embedding ({vocab_size} tokens x {dim}) with its vocabulary (vocab.json), fitted on {dataset} train",
        source=Source(dataset=dataset, method="train"),
        architecture=Architecture(
            family="embedding",
            input=InputSpec(shape=(max_len,), dtype="int64"),
            params={"vocab_size": vocab_size, "dim": dim, **dict(tokenizer or {})},
        ),
        provenance=dict(provenance),
    )


def write_embedding(directory: Path, manifest: Manifest, embedding) -> Manifest:
    """vocab.json (a JSON list of tokens, never code) and the weight matrix, packed."""
    from nnpm.datasets.vocab import VOCAB_FILE, Vocab
    from nnpm.package.writer import write_package

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    Vocab(tuple(embedding.tokens)).save(directory / VOCAB_FILE)
    return write_package(directory, manifest, {"weight": embedding.weight.detach()})


def units_metrics(sizes: Sequence[int], total_sizes: Sequence[int], accuracy: Accuracy | None,
                  source_accuracy: Accuracy | None, extra: Mapping[str, Any]) -> Metrics:  # fmt: skip
    retained, total = int(sum(sizes)), int(sum(total_sizes))
    return Metrics(
        unit="units",
        retained=retained,
        total=total,
        retention_rate=round(retained / total, 6),
        accuracy=accuracy,
        source_accuracy=source_accuracy,
        extra={"retained_per_layer": [int(s) for s in sizes], **extra},
    )


def write_network(directory: Path, manifest: Manifest, net) -> Manifest:
    from nnpm.package.writer import write_package

    return write_package(Path(directory), manifest, net.state_dict())


# --- reading back (what `nnpm decompose DIR` needs before the lead's loader exists) ----------------------


def embedding_dependency(manifest: Manifest) -> Dependency:
    """The dependency on architecture.vocabulary (the embedding package)."""
    if manifest.embedding is not None:
        return manifest.embedding
    raise CompositionError(f"{manifest.id} names no embedding dependency", where=str(manifest.name))


def load_directory(directory: Path, search: Sequence[Path] = ()):
    """Build a package directory through the loader, its embedding found beside it, in `search` or in
    the store by its pinned sha256. Returns (manifest, network, embedding manifest or None)."""
    from nnpm.nn.loader import load_directory as load

    net = load(Path(directory), search)
    manifest = net.manifest
    if manifest.kind == "embedding":
        net.embedding.weight.requires_grad_(False)
        return manifest, net, None
    return manifest, net, net.embedding.manifest


# --- compatibility ---------------------------------------------------------------------------------------


def embedding_key(manifest: Manifest) -> str:
    dep = embedding_dependency(manifest)
    return f"{dep.name}{dep.specifier} (sha256 {str(dep.sha256)[:12]})"


def check_embeddings(manifests: Sequence[Manifest]) -> str:
    """Refuse to compose or swap modules built on different embeddings; returns the shared one.

    The message names every distinct embedding and the packages that use it."""
    users: dict[str, list[str]] = {}
    for m in manifests:
        users.setdefault(embedding_key(m), []).append(m.id)
    if len(users) > 1:
        clash = "; ".join(f"{key} used by {', '.join(ids)}" for key, ids in users.items())
        raise CompositionError(
            f"modules use different embeddings: {clash}",
            hint="compose modules trained on the same embedding package (nnpm train rnn --embedding NAME==VERSION)",
        )
    return next(iter(users), "")
