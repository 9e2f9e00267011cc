"""Make examples/packages/digits-mlp: a real, ready-to-publish package.

    python examples/make_digits_mlp.py          # retrains (seed 0) and repacks the package
    nnpm publish examples/packages/digits-mlp

Training is seeded and deterministic on CPU, so rerunning it reproduces the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from nnpm.quickstart import build_digits_mlp_package

if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "packages" / "digits-mlp"
    manifest = build_digits_mlp_package(target, name="digits/mlp", version="1.0.0", seed=0, epochs=60)
    print(f"wrote {manifest.id} to {target}: test accuracy {manifest.metrics.accuracy.value:.4f}")
