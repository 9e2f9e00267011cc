"""Where a run's modules are large: units kept per layer and the conv multiply-adds of two-class unions.

    python benchmarks/module_layers.py --out build/modularize-fmnist

Reads the modular models that benchmarks/modularize_fmnist.py checkpointed under OUT, cuts their
modules again (tau on the training split, as there), and prints for each run (--runs: its folder,
named after its method) the mean share of each layer's units the modules keep, each conv's share of
the model's multiply-adds and of its forward time (each conv timed alone on the input it sees), and
the mean and largest share of the model's conv multiply-adds a two-class union keeps: the figure a
composite's forward follows, where the share of parameters does not. A layer every module keeps
whole is a floor under any composite's forward.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import torch
from compose_fmnist import time_forward
from modularize_fmnist import METHODS
from safetensors.torch import load_file

from nnpm.datasets.images import load_image_dataset
from nnpm.nn.cnn.fuse import union_of_kernels
from nnpm.nn.cnn.model import build_cnn
from nnpm.nn.cnn.spec import layout, multiply_adds
from nnpm.science.cnn.extract import extract_modules
from nnpm.science.cnn.mwt import modular_architecture
from nnpm.science.cnn.train import TrainConfig


def conv_macs(arch) -> dict[str, int]:
    """Multiply-adds of each conv of a (possibly pruned) spec, per image."""
    return {name: n for name, n in multiply_adds(layout(arch)).items() if not name.startswith("fc.")}


def load_modular(folder: Path, arch):
    """The modular model benchmarks/modularize_fmnist.py checkpointed in `folder`, in eval mode."""
    net = build_cnn(arch)
    tensors = load_file(str(folder / "checkpoint-modular.safetensors"))
    net.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")})
    return net.eval()


def method_of(run: str) -> str:
    """The method a run folder was trained with: "moda-cost-g1-from" -> "moda"."""
    for method in sorted(METHODS, key=len, reverse=True):
        if run == method or run.startswith(f"{method}-"):
            return method
    raise SystemExit(
        f"module_layers.py: {run!r} names no method ({', '.join(METHODS)}) as its folder's prefix"
    )


@torch.no_grad()
def conv_times(net, x: torch.Tensor, repeat: int = 20) -> dict[str, float]:
    """Each conv unit's share of the model's forward time on `x`: every unit is timed alone (median
    of `repeat`) on the input it receives in a forward pass; what is left (pools, the head) is "rest"."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [unit.register_forward_pre_hook(lambda _, a, n=name: seen.setdefault(n, a[0]))
             for name, unit in net.convs.items()]  # fmt: skip
    net(x)
    for hook in hooks:
        hook.remove()
    times = {name: time_forward(net.convs[name], seen[name], repeat) for name in net.convs}
    total = time_forward(net, x, repeat)
    shares = {name: t / total for name, t in times.items()}
    return {**shares, "rest": 1 - sum(shares.values())}


def report(run: str, out: Path, data, width: float, tau: float) -> None:
    arch = modular_architecture("simcnn", data, width, TrainConfig(method=method_of(run)))
    net = load_modular(out / run, arch)
    modules = extract_modules(net, data, tau, model_arch=arch)
    macs = conv_macs(arch)
    full = sum(macs.values())
    widths = layout(arch).full_width
    times = conv_times(net, data.val.x[:512])
    print(f"\n{run}: layer, width, mean units kept, share of the model's conv multiply-adds, "
          "share of its forward time (512 validation images)")  # fmt: skip
    for name in modules[0].kept:
        kept = statistics.mean(len(m.kept[name]) for m in modules)
        time = f"{100 * times[name]:>8.1f}%" if name in times else ""
        print(f"  {name:<7}{widths[name]:>4}{100 * kept / widths[name]:>8.1f}%"
              f"{100 * macs.get(name, 0) / full:>8.1f}%{time}")  # fmt: skip
    print(f"  input normalisation, pools and the FC head: {100 * times['rest']:.1f}% of the forward time")
    shares = [
        sum(conv_macs(replace(arch, retained=union_of_kernels([a.arch, b.arch]))).values()) / full
        for a, b in itertools.combinations(modules, 2)
    ]
    print(f"  two-class unions keep {100 * statistics.mean(shares):.1f}% of the conv multiply-adds "
          f"(largest {100 * max(shares):.1f}%)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("build/modularize-fmnist"))
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--tau", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", default="moda,mwt-repaired,mwt", help="run folders under OUT (method-prefixed)")
    args = ap.parse_args(argv)
    for run in args.runs.split(","):
        method_of(run)  # a bad name is one line before anything loads
    data = load_image_dataset(args.dataset, args.data_dir, seed=args.seed)
    for run in args.runs.split(","):
        report(run, args.out, data, args.width, args.tau)
    return 0


if __name__ == "__main__":
    sys.exit(main())
