"""How well each module's own score tells its class from the rest, on validation and test.

A module's calibrated score is what `nnpm eval` measures it by (one-vs-rest balanced accuracy
at p >= 0.5) and what cross-model composites compare. This prints, per class: the fitted
temperature and bias, the ROC AUC of the module's log-odds (how separable its class is at all,
whatever the calibration), the balanced accuracy at p >= 0.5, and the mean p on its class's
images and on the others'. It modularizes the bundled digits with the quickstart's settings
(or reads an earlier --out build).

    python benchmarks/module_scores.py --method moda --out build/module-scores-digits
    python benchmarks/module_scores.py --method moda --out build/module-scores-digits --confusers 3

--confusers N cuts the same trained model again with negative evidence (docs/cnn.md) and adds each
module's confusers and share of the units.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def balanced(decision: torch.Tensor, positive: torch.Tensor) -> float:
    return 0.5 * (float(decision[positive].float().mean()) + float((~decision[~positive]).float().mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default="moda", choices=["mwt", "mwt-repaired", "moda"])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--confusers", type=int, default=0, help="max confusers per module (extraction only)")
    args = parser.parse_args()

    from nnpm.datasets.images import load_image_dataset
    from nnpm.nn.cnn.score import log_odds
    from nnpm.science.cnn import packaging
    from nnpm.science.cnn.extract import extract_modules, separation
    from nnpm.science.cnn.mwt import modularize
    from nnpm.science.cnn.train import (
        MODA_DEFAULTS,
        MWT_DEFAULTS,
        REPAIRED_DEFAULTS,
        TrainConfig,
        predict_logits,
    )

    data = load_image_dataset("digits", seed=args.seed)
    if not (args.out / "results.json").is_file():
        weights = {"mwt": MWT_DEFAULTS, "mwt-repaired": REPAIRED_DEFAULTS, "moda": MODA_DEFAULTS}[args.method]
        cfg = TrainConfig(
            epochs=args.epochs, batch_size=64, lr=0.05, seed=args.seed, method=args.method, **weights
        )
        modularize(data, "simcnn", 0.125, cfg, args.out, "scores", version="1.0.0")
    results = json.loads((args.out / "results.json").read_text())
    manifest, model = packaging.load_package(args.out / "simcnn")
    print(f"{args.method} on digits, SimCNN width 0.125, seed {args.seed}, {results['config']['epochs']} epochs, "
          f"batch 64, lr 0.05; {data.split_note}")  # fmt: skip
    print(f"standard {results['standard_accuracy']:.4f}, modular {results['modular_accuracy']:.4f}")
    print(
        f"{'class':>5} {'split':>5} {'T':>7} {'b':>7} {'AUC':>6} {'bal.acc':>7} {'p(class)':>8} {'p(rest)':>8}"
        f" {'units':>6}  confusers"
    )
    tau = results["config"]["tau"]
    for m in extract_modules(
        model, data, tau, model_arch=manifest.architecture, max_confusers=args.confusers
    ):
        for name, part in (("val", data.val), ("test", data.test)):
            z = predict_logits(m.network.eval(), part.x, 512).double()
            odds = log_odds(z / m.temperature, m.cls) + m.score_bias
            positive, p = part.y == m.cls, torch.sigmoid(odds)
            print(f"{m.class_name:>5} {name:>5} {m.temperature:7.3f} {m.score_bias:+7.2f} "
                  f"{separation(z, part.y, m.cls):6.3f} {balanced(odds > 0, positive):7.3f} "
                  f"{float(p[positive].mean()):8.3f} {float(p[~positive].mean()):8.3f} {m.krr:6.1%}  "
                  f"{','.join(m.confusers) or '-'}")  # fmt: skip


if __name__ == "__main__":
    main()
