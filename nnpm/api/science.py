"""Producing modules: the library side of `nnpm modularize` and `nnpm decompose`.

Both write package directories and touch neither the store nor a registry: publish
the results with `Client.publish_all`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnpm.science.cnn.report import Report
    from nnpm.science.cnn.train import TrainConfig


def modularize(
    *,
    out: Path | str,
    arch: str = "simcnn",
    width: float = 0.25,
    dataset: str = "digits",
    data_dir: Path | str | None = None,
    config: TrainConfig | None = None,
    namespace: str = "local",
    version: str = "1.0.0",
    val_fraction: float = 0.1,
    pad: int = 0,
    resize: int = 0,
    resume: bool = False,
    reporter=None,
    start: Path | str | None = None,
    image_size: int | None = None,
) -> Report:
    """Train a standard and a modular CNN with one recipe and cut one module package per class.

    The modular method is `config.method`: "mwt" (mask generators; the default), "mwt-repaired"
    (leaky generator units and a gate sparsity term) or "moda" (activation-driven losses on a
    standard network, units pruned by per-class activation rate). With `start` (a model package
    folder or a safetensors state dict of the standard `arch` at `width`), no standard model is
    trained: the given one is the baseline and the modular objective trains from its weights.
    Writes OUT/<arch> (the modular model), OUT/<arch>-standard (not with `start`),
    OUT/<class>-module packages and OUT/results.json. The validation split is carved from the
    training data (`val_fraction`); the test split is only measured. `image_size` resizes the images
    of image-file datasets (imagefolder, hf) to image_size x image_size as they are read.
    """
    from nnpm.datasets.images import load_image_dataset
    from nnpm.science.cnn.mwt import architecture
    from nnpm.science.cnn.mwt import modularize as run
    from nnpm.science.cnn.train import TrainConfig

    config = config or TrainConfig()
    data = load_image_dataset(dataset, Path(data_dir) if data_dir else None, seed=config.seed,
                              val_fraction=val_fraction, image_size=image_size)  # fmt: skip
    architecture(arch, data, width, gated=False, pad=pad, resize=resize)
    kwargs = {"reporter": reporter} if reporter is not None else {}
    return run(data, arch, width, config, Path(out), namespace, version=version, pad=pad, resize=resize,
               resume=resume, start=Path(start) if start is not None else None, **kwargs)  # fmt: skip


def decompose(
    model_dir: Path | str,
    *,
    out: Path | str,
    mode: str = "refit",
    cap: float | str | None = None,
    positives: int = 500,
    pool: int | None = None,
    refit_sequences: int | None = None,
    per_class: int | None = None,
    classes: list[str] | None = None,
    seed: int = 0,
    data_dir: Path | str | None = None,
    embedding_dir: Path | str | None = None,
    reporter=None,
) -> dict[str, Any]:
    """Cut a trained RNN model package into one module package per class or target language.

    cap None or "auto": the largest cap whose composite stays within 0.5 points of the model on
    validation (translators 0.05); pool / refit_sequences None: the task's defaults (taggers 2,000
    / 1,000 sequences; classifiers `per_class` sequences of each class, default 160)."""
    from nnpm.progress import NULL
    from nnpm.science.rnn.cli_support import decompose_command

    return decompose_command(
        model_dir=Path(model_dir), out=Path(out), mode=mode, cap=cap, positives=positives, pool=pool,
        classes=",".join(classes) if classes else None, seed=seed,
        data_dir=Path(data_dir) if data_dir else None,
        embedding_dir=Path(embedding_dir) if embedding_dir else None,
        refit_sequences=refit_sequences, per_class=per_class, reporter=reporter or NULL,
    )  # fmt: skip
