"""`nnpm modularize cnn`: train a modular CNN (MwT or MODA) and write one module package per class."""

from __future__ import annotations

from pathlib import Path

import click

from nnpm.cli import params
from nnpm.cli.output import emit_json, info, json_option
from nnpm.errors import UsageError


@click.group()
def modularize() -> None:
    """Train a modular network and extract one module package per class."""


def _device(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """auto, cpu, cuda or cuda:N (and any other device torch knows), refused now when it cannot be used."""
    import torch

    if value == "auto":
        return value
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise UsageError(
            f"unknown device {value!r}", where="--device", hint="use auto, cpu or cuda"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            "no CUDA device is available here", where="--device", hint="use --device cpu (or auto)"
        )
    return value


@modularize.command("cnn")
@click.option("--arch", default="simcnn", show_default=True, help="vgg16, resnet18, simcnn or rescnn.")
@click.option("--width", type=float, default=0.25, show_default=True, help="Width multiplier of every layer.")
@click.option("--dataset", default="digits", show_default=True, callback=params.image_dataset,
              help="digits (bundled), mnist, fashion-mnist, cifar10, svhn; your own data: imagefolder, npz, "
                   "csv, hf (docs/datasets.md).")  # fmt: skip
@click.option("--data-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder with the dataset's files (not for digits, which is bundled).")  # fmt: skip
@click.option("--image-size", type=click.IntRange(1), default=None,
              help="imagefolder, hf: resize every image to NxN as it is read (images of different sizes "
                   "are an error without it).")  # fmt: skip
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--lr", type=float, default=0.05, show_default=True)
@click.option(
    "--generator-lr-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Learning rate of the mask generators, as a multiple of --lr (MwT: 1).",
)
@click.option("--method", default="mwt", show_default=True,
              help="mwt (mask generators, gate losses), mwt-repaired (leaky generators, gate sparsity) "
                   "or moda (activation losses, no gates).")  # fmt: skip
@click.option("--alpha", type=float, default=None,
              help="mwt: weight of the cohesion loss (default 0.5); moda: of the affinity loss (default 1).")  # fmt: skip
@click.option("--beta", type=float, default=None,
              help="mwt: weight of the coupling loss (default 1.5); moda: of the dispersion loss (default 1).")  # fmt: skip
@click.option("--gamma", type=float, default=None,
              help="moda: weight of the compactness loss, mean |activation|; mwt-repaired: of the mean gate "
                   "(default 0.3; not for mwt).")  # fmt: skip
@click.option("--compactness", type=click.Choice(["layers", "macs", "cost"]), default=None,
              help="moda: how the compactness loss weighs its layers: layers (MODA's mean, the default), macs "
                   "(by multiply-adds) or cost (multiply-adds and parameters); docs/cnn.md.")  # fmt: skip
@click.option("--from", "start", type=click.Path(exists=True, path_type=Path), default=None,
              help="Start from a trained standard model: a model package folder or a safetensors state dict "
                   "in nnpm's layout for --arch and --width (docs/cnn.md). No standard model is trained.")  # fmt: skip
@click.option(
    "--tau", type=float, default=0.9, show_default=True,
    help="Unit threshold in (0, 1]: gate frequency (mwt) or non-zero activation rate (moda) per class.",
)  # fmt: skip
@click.option("--confusers", type=click.IntRange(0), default=0, show_default=True,
              help="Negative evidence: a module may also keep the units of up to this many look-alike classes, "
                   "each only where it raises its one-vs-rest AUC on validation (docs/cnn.md).")  # fmt: skip
@click.option("--mass", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="moda: of each conv layer's channels a class fires, keep only the fewest carrying this share "
                   "of its mean activation on the class (default 1: MODA's rule; docs/cnn.md).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Validation share of training data.")  # fmt: skip
@click.option("--shift", type=click.IntRange(0), default=0, show_default=True,
              help="Augmentation: random shift in pixels.")  # fmt: skip
@click.option("--flip", is_flag=True, help="Augmentation: random horizontal flips.")
@click.option("--pad", type=click.IntRange(0), default=0, show_default=True,
              help="Zero-pad inputs by this many pixels per side.")  # fmt: skip
@click.option("--resize", type=click.IntRange(0), default=0, show_default=True,
              help="Resize inputs to this size first (0: no).")  # fmt: skip
@click.option("--device", default="auto", show_default=True, callback=_device,
              help="auto (CUDA when present), cpu or cuda.")  # fmt: skip
@click.option("--namespace", default="local", show_default=True, callback=params.namespace)
@click.option("--version", "version", default="1.0.0", show_default=True, callback=params.version)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build"), show_default=True,
              help="Folder for the package folders and results.json.")  # fmt: skip
@click.option("--resume", is_flag=True, help="Continue from the checkpoints in OUT/.checkpoints.")
@json_option
@click.pass_context
def cnn(ctx, arch, width, dataset, data_dir, epochs, batch_size, lr, generator_lr_scale, method, alpha, beta, gamma,
        compactness, start, tau, confusers, mass, seed, val_fraction, shift, flip, pad, resize, device, namespace, version,
        out, resume, as_json, image_size=None) -> None:  # fmt: skip
    """Train the standard and the modular model with one recipe, extract a module per class, write
    OUT/<arch> (kind model), OUT/<arch>-standard and OUT/<class>-module packages and OUT/results.json."""
    from nnpm import api
    from nnpm.cli.progress import TqdmProgress
    from nnpm.science.cnn.train import (
        GATED_METHODS,
        METHODS,
        MODA_DEFAULTS,
        MWT_DEFAULTS,
        REPAIRED_DEFAULTS,
        TrainConfig,
    )

    if dataset == "digits":
        params.refuse(ctx, "data_dir", "does not apply to digits, which is bundled with nnpm")
    if dataset not in ("imagefolder", "hf"):
        params.refuse(ctx, "image_size", "applies to image files only (--dataset imagefolder or hf)",
                      hint="drop it; --resize resizes any input inside the model")  # fmt: skip
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r} (known: {', '.join(METHODS)})", where="--method")
    if method == "mwt":
        params.refuse(ctx, "gamma", "applies to --method moda and mwt-repaired only")
    if method != "moda":
        params.refuse(ctx, "compactness", "applies to --method moda only")
        params.refuse(ctx, "mass", "applies to --method moda only (MwT cuts by its gates)")
    if method not in GATED_METHODS:
        params.refuse(
            ctx, "generator_lr_scale", "applies to the mwt methods only (MODA has no mask generators)"
        )
    defaults = {"mwt": MWT_DEFAULTS, "mwt-repaired": REPAIRED_DEFAULTS, "moda": MODA_DEFAULTS}[method]
    weights = {k: v if v is not None else defaults.get(k, 0.3) for k, v in
               (("alpha", alpha), ("beta", beta), ("gamma", gamma))}  # fmt: skip
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, generator_lr_scale=generator_lr_scale,
                         method=method, **weights, compactness=compactness or "layers", tau=tau,
                         confusers=confusers, mass=1.0 if mass is None else mass, seed=seed, shift=shift, flip=flip, device=device)  # fmt: skip
    report = api.modularize(
        out=out, arch=arch, width=width, dataset=dataset, data_dir=data_dir, config=config, namespace=namespace,
        version=version, val_fraction=val_fraction, pad=pad, resize=resize, resume=resume, reporter=TqdmProgress(leave=True),
        start=start, image_size=image_size,
    )  # fmt: skip
    d = report.to_dict()
    if as_json:
        emit_json(d)
        return
    info(f"{arch} width {width} on {dataset}, {method}: {epochs} epochs, seed {seed}; {report.split_note}")
    times = (f"time {report.standard_seconds:.0f}s / {report.modular_seconds:.0f}s (x{d['time_ratio']:.2f})"
             if d["time_ratio"] is not None else f"modular training {report.modular_seconds:.0f}s from {report.start}")  # fmt: skip
    click.echo(
        f"standard accuracy {100 * report.standard_accuracy:.2f}%  modular {100 * report.modular_accuracy:.2f}%"
        f"  loss {report.loss_points:.2f} points  mean KRR {100 * report.mean_krr:.2f}%"
        f"  mean size {100 * report.mean_parameter_share:.2f}% of the parameters  {times}"
    )
    rule = report.composition
    click.echo(f"composition rule {rule['rule']} (validation, {rule['pairs']} two-class composites: union "
               f"{100 * rule['union_mean']:.2f}% mean, calibrated {100 * rule['calibrated_mean']:.2f}%)")  # fmt: skip
    unit = "units" if method == "moda" else "kernels"
    click.echo(f"{'package':<40}{unit:>10}{'KRR':>8}{'size':>8}{'bal.acc':>9}{'fidelity':>10}")
    click.echo(f"{report.model_package:<40}")
    for m in report.modules:
        click.echo(
            f"{m.package:<40}{m.retained:>5}/{m.total:<4}{100 * m.krr:>7.1f}%{100 * m.parameter_share:>7.1f}%"
            f"{100 * m.balanced_accuracy:>8.1f}%{100 * m.fidelity:>9.1f}%"
            + (f"  + units of {', '.join(m.confusers)}" if m.confusers else "")
        )
    info(f"wrote {out} (results.json beside the packages)")
