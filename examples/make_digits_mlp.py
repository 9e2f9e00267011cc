"""Make examples/packages/digits-mlp: a real, ready-to-publish package built by hand.

    python examples/make_digits_mlp.py          # retrains (seed 0) and repacks the package
    nnpm publish examples/packages/digits-mlp

It shows what any producer does: train a network whose architecture nnpm knows (the
`mlp` family), describe it in a Manifest and write it with `write_package`, which
saves safetensors, renders the card and hashes every file. Training is seeded and
deterministic on CPU, so rerunning it reproduces the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from packaging.version import Version

from nnpm.datasets import digits
from nnpm.nn.build import build
from nnpm.package.manifest import Accuracy, Architecture, InputSpec, Manifest, Metrics, Source
from nnpm.package.naming import PackageName
from nnpm.package.writer import write_package

SEED, EPOCHS, HIDDEN = 0, 60, [64, 32]


def accuracy(model: torch.nn.Module, split) -> float:
    with torch.no_grad():
        return float((model(split.x).argmax(1) == split.y).float().mean())


def main() -> None:
    torch.manual_seed(SEED)
    data = digits.load()
    mean, std = data.channel_stats()
    arch = Architecture("mlp", InputSpec(data.input_shape, mean, std), {"hidden": HIDDEN, "num_outputs": 10})
    model = build(arch)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(EPOCHS):  # full batch, a fixed number of epochs: nothing is selected on any split
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(data.train.x), data.train.y).backward()
        optimiser.step()
    model.eval()
    manifest = Manifest(
        name=PackageName.parse("digits/mlp"),
        version=Version("1.0.0"),
        kind="model",
        description="A small MLP digit classifier trained on the digits data bundled with nnpm.",
        license="BSD-3-Clause",
        source=Source(dataset="digits", method="supervised", classes=data.classes, all_classes=data.classes),
        architecture=arch,
        metrics=Metrics(
            unit="parameters",
            accuracy=Accuracy(round(accuracy(model, data.test), 6), "accuracy", "digits", "test"),
            extra={"val_accuracy": round(accuracy(model, data.val), 6)},
        ),
        provenance={
            "seed": SEED,
            "epochs": EPOCHS,
            "optimizer": "adam lr=0.01 full batch",
            "split": data.split_note,
        },
    )
    target = Path(__file__).resolve().parent / "packages" / "digits-mlp"
    written = write_package(target, manifest, model.state_dict())
    print(f"wrote {written.id} to {target}: test accuracy {written.metrics.accuracy.value:.4f}")


if __name__ == "__main__":
    main()
