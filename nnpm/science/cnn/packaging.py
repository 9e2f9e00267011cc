"""Model and module manifests for MwT runs, and reading a CNN package back into torch."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from nnpm.errors import ArchitectureError, InvalidInputError
from nnpm.nn.cnn.model import CNN
from nnpm.nn.cnn.spec import FAMILY_NAMES, layout, maskable_total, unit_total
from nnpm.package.data_identity import DataIdentity
from nnpm.package.manifest import Accuracy, Architecture, Dependency, InputSpec, Manifest, Metrics, Source
from nnpm.package.naming import PackageName, parse_version
from nnpm.package.writer import write_package
from nnpm.progress import NULL, Progress
from nnpm.science.cnn.plot import CHART_NAME, chart_available, write_retention_chart

if TYPE_CHECKING:
    from nnpm.datasets.splits import LabelledData
    from nnpm.science.cnn.extract import ExtractedModule
    from nnpm.science.cnn.report import Report

LICENSE = "Apache-2.0"


def architecture(
    family: str,
    data: LabelledData,
    width: float,
    *,
    gated: bool,
    pad: int = 0,
    resize: int = 0,
    generator: str = "relu",
) -> Architecture:
    """The declarative spec of a full model for `data` (input shape, train-split mean/std, classes);
    `generator` "leaky" gives a gated model the repaired MwT's mask generators."""
    if family not in FAMILY_NAMES:
        raise ArchitectureError(
            f"unknown architecture {family!r} (known: {', '.join(FAMILY_NAMES)})", where="--arch"
        )
    if not 0 < width <= 8:
        raise InvalidInputError(f"width must be in (0, 8], got {width}", where="--width")
    mean, std = data.channel_stats()
    params: dict[str, Any] = {"num_classes": len(data.classes), "width": float(width), "gated": gated}
    if gated and generator != "relu":
        params["generator"] = generator
    if pad:
        params["pad"] = int(pad)
    if resize:
        params["resize"] = int(resize)
    return Architecture(family, InputSpec(tuple(data.input_shape), tuple(mean), tuple(std)), params)


def class_slug(name: str, dataset: str) -> str:
    """A package-name-safe slug for a class: 'Ankle boot' -> 'ankle-boot', digits '0' -> 'digit-0'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "class"
    if slug.isdigit():
        slug = f"digit-{slug}" if dataset in {"digits", "mnist", "svhn"} else f"class-{slug}"
    return slug


def model_name(namespace: str, family: str) -> PackageName:
    return PackageName.parse(f"{namespace}/{family}", where="--namespace")


def module_name(namespace: str, class_name: str, dataset: str) -> PackageName:
    return PackageName.parse(f"{namespace}/{class_slug(class_name, dataset)}-module", where="--namespace")


def model_manifest(
    name: PackageName,
    version: str,
    arch: Architecture,
    dataset: str,
    classes: tuple[str, ...],
    accuracy: float,
    metrics_extra: dict[str, Any],
    provenance: dict[str, Any],
    total_kernels: int,
    method: str = "mwt",
    data: DataIdentity | None = None,
) -> Manifest:
    return Manifest(
        name=name,
        version=parse_version(version, where="--version"),
        kind="model",
        description=f"{_METHOD_NAMES[method]} modular {arch.family} (width {arch.params['width']}) trained on "
        f"{dataset}; returns logits over all classes",
        license=LICENSE,
        source=Source(dataset=dataset, method=method, classes=classes, all_classes=classes, data=data),
        architecture=arch,
        metrics=Metrics(
            unit=_UNITS[method],
            retained=total_kernels,
            total=total_kernels,
            retention_rate=1.0,
            accuracy=Accuracy(accuracy, "accuracy", dataset, "test"),
            extra=metrics_extra,
        ),
        provenance=provenance,
    )


_METHOD_NAMES = {"mwt": "MwT", "mwt-repaired": "repaired MwT", "moda": "MODA"}
_UNITS = {"mwt": "kernels", "mwt-repaired": "kernels", "moda": "units"}  # MODA: conv channels and FC neurons


def standard_manifest(
    name: PackageName,
    version: str,
    arch: Architecture,
    dataset: str,
    classes: tuple[str, ...],
    accuracy: float,
    provenance: dict[str, Any],
    data: DataIdentity | None = None,
) -> Manifest:
    """The baseline trained with the same recipe, no gates: the reference sub-task accuracies
    (and composites) are measured against."""
    base = model_manifest(name, version, arch, dataset, classes, accuracy, {}, provenance, 0, data=data)
    return replace(
        base,
        description=f"standard (non-modular) {arch.family} (width {arch.params['width']}) trained on {dataset} "
        "with the MwT recipe, cross-entropy only; the baseline of its modular model",
        source=replace(base.source, method="supervised"),
        metrics=Metrics(unit="kernels", accuracy=base.metrics.accuracy),
    )


def module_manifest(
    name: PackageName,
    model: Manifest,
    arch: Architecture,
    class_name: str,
    retained: int,
    total: int,
    accuracy: float,
    metrics_extra: dict[str, Any],
    provenance: dict[str, Any],
    method: str = "mwt",
    model_sha256: str | None = None,
) -> Manifest:
    digest = model_sha256 or model.digest()  # given by a caller that writes many modules of one model
    return Manifest(
        name=name,
        version=model.version,
        kind="module",
        description=f"class '{class_name}' of {model.name}=={model.version}: returns calibrated log p(class | x)",
        license=model.license,
        source=Source(
            model=str(model.name),
            version=str(model.version),
            sha256=digest,
            dataset=model.source.dataset,
            method=method,
            classes=(class_name,),
            all_classes=model.source.all_classes,
            data=model.source.data,
        ),
        architecture=arch,
        metrics=Metrics(
            unit=_UNITS[method],
            retained=retained,
            total=total,
            retention_rate=retained / total,
            accuracy=Accuracy(accuracy, "one-vs-rest balanced accuracy", model.source.dataset or "", "test"),
            source_accuracy=model.metrics.accuracy,
            extra=metrics_extra,
        ),
        dependencies=(Dependency(model.name, SpecifierSet(f"=={model.version}"), sha256=digest),),
        provenance=provenance,
    )


def write(directory: Path, manifest: Manifest, state: dict[str, torch.Tensor]) -> Manifest:
    """Write and pack one package directory; returns the packed manifest (its digest is final)."""
    return write_package(Path(directory), manifest, state)


def load_package(directory: Path) -> tuple[Manifest, CNN]:
    """A CNN model or module package directory, hash-checked and built by the one loader."""
    from nnpm.nn.loader import load_directory

    net = load_directory(Path(directory))
    return net.manifest, net


def write_packages(
    out: Path,
    namespace: str,
    version: str,
    model: CNN,
    model_arch: Architecture,
    modules: list[ExtractedModule],
    report: Report,
    provenance: dict[str, Any],
    method: str = "mwt",
    reporter: Progress | None = None,
) -> Manifest:
    """build/<ns>/<family> (kind model) and build/<ns>/<class>-module packages (kind module);
    `method` is recorded in every manifest's source, the composition rule chosen on validation in
    the model's metrics, each module's size as a share of the model's parameters in its own, and
    (with matplotlib, the `plot` extra) each module carries its per-layer retention chart."""
    out = Path(out)
    name = model_name(namespace, model_arch.family)
    lay = layout(model_arch)
    total = unit_total(lay) if method == "moda" else maskable_total(lay)
    extra = {
        "standard_accuracy": report.standard_accuracy,
        "modular_accuracy": report.modular_accuracy,
        "accuracy_loss_points": report.loss_points,
        "mean_module_krr": report.mean_krr,
        "train_cohesion": report.train_cohesion,
        "train_coupling": report.train_coupling,
        "jaccard_coupling": report.jaccard_coupling,
        "model_parameters": report.model_parameters,
        "mean_module_parameter_share": report.mean_parameter_share,
    }
    model_extra = {**extra, "composition_rule": report.composition["rule"],
                   "composition_validation": dict(report.composition)}  # fmt: skip
    manifest = model_manifest(
        name,
        version,
        model_arch,
        report.dataset,
        tuple(report.classes),
        report.modular_accuracy,
        model_extra,
        provenance,
        total,
        method,
        data=report.data_identity,
    )
    manifest = write(out / model_arch.family, manifest, model.state_dict())
    report.model_package, model_sha256 = manifest.id, manifest.digest()
    charts = chart_available()
    if not charts:
        (reporter or NULL).note("no retention charts: matplotlib is not installed (pip install 'nnpm[plot]')")
    for m, row in zip(modules, report.modules, strict=True):
        mname = module_name(namespace, m.class_name, report.dataset)
        row.package = f"{mname}=={manifest.version}"
        mextra = {
            **extra,
            "fidelity": row.fidelity,
            "argmax_fidelity": row.argmax_fidelity,
            "jaccard_cohesion": row.jaccard_cohesion,
            "temperature": m.temperature,
            "score_bias": m.score_bias,
            "retained_per_layer": row.retained_per_layer,
            "parameters": row.parameters,
            "parameter_share": row.parameter_share,
        }
        if m.confusers:
            mextra["confusers"] = list(m.confusers)
        if charts:
            mextra["retention_chart"] = write_chart(out / mname.name, lay, row, mname).name
        else:  # a chart left by an earlier run would be packed without its manifest naming it
            (out / mname.name / CHART_NAME).unlink(missing_ok=True)
        mm = module_manifest(
            mname,
            manifest,
            m.arch,
            m.class_name,
            row.retained,
            row.total,
            row.balanced_accuracy,
            mextra,
            provenance,
            method,
            model_sha256=model_sha256,
        )
        write(out / mname.name, mm, m.state)
    return manifest


def write_chart(directory: Path, lay, row, name: PackageName) -> Path:
    """The module's units kept per layer, in network order, as directory/retention.png."""
    order = [n for n in (getattr(op, "name", None) for op in lay.ops) if n in row.retained_per_layer]
    order += sorted(k for k in row.retained_per_layer if k not in order)
    layers = [(k, row.retained_per_layer[k], lay.full_width[k]) for k in order]
    directory.mkdir(parents=True, exist_ok=True)
    title = f"{name}: {row.retained}/{row.total} units, {row.parameter_share:.1%} of the model's parameters"
    return write_retention_chart(directory / CHART_NAME, layers, title)


def write_standard_package(out: Path, namespace: str, version: str, model: CNN, data: LabelledData, family: str,
                           width: float, pad: int, resize: int, report: Report, provenance: dict[str, Any]) -> Manifest:  # fmt: skip
    """build/<ns>/<family>-standard: the baseline, published beside the modular model for reference."""
    arch = architecture(family, data, width, gated=False, pad=pad, resize=resize)
    name = model_name(namespace, f"{family}-standard")
    manifest = standard_manifest(name, version, arch, report.dataset, tuple(report.classes),
                                 report.standard_accuracy, provenance, data=report.data_identity)  # fmt: skip
    return write(out / f"{family}-standard", manifest, model.state_dict())


__all__ = ["Version", "class_slug", "load_package", "model_manifest", "module_manifest", "write"]
