"""The package manifest (`nnpm.toml`): typed, validated, and written back deterministically.

A manifest says everything needed to use a package without its trainer: what it is
(package), where it came from (source), how to build the network (architecture), how
good it is (metrics), what it needs (dependencies), and which bytes make it up
(files). registry_schema/manifest.schema.json is the normative spec; this module turns
a validated document into dataclasses and back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from nnpm.errors import ManifestError
from nnpm.package import schema
from nnpm.package.data_identity import DataIdentity
from nnpm.package.files import (  # re-exported: the rest of nnpm reads files through these
    MANIFEST_NAME,
    check_file_names,
    check_relative_path,
    parse_toml,
    read_text_file,
    sha256_bytes,
)
from nnpm.package.naming import PackageName, Requirement, parse_specifier, parse_version

CARD_NAME = "README.md"
KINDS = ("model", "module", "embedding", "composite")
#: The longest description a manifest or an index may carry (registry_schema/*.json say the same).
MAX_DESCRIPTION_CHARS = 10_000


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size: int


@dataclass(frozen=True)
class InputSpec:
    """What the network expects: tensor shape without the batch, and per-channel normalisation."""

    shape: tuple[int, ...]
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    dtype: str = "float32"


@dataclass(frozen=True)
class Architecture:
    """A declarative spec that a registered family turns into a torch module."""

    family: str
    input: InputSpec
    params: Mapping[str, Any] = field(default_factory=dict)
    retained: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    vocabulary: str | None = None


@dataclass(frozen=True)
class Accuracy:
    value: float
    metric: str = "accuracy"
    dataset: str = ""
    split: str = "test"


@dataclass(frozen=True)
class Metrics:
    unit: str = "kernels"
    retained: int | None = None
    total: int | None = None
    retention_rate: float | None = None
    accuracy: Accuracy | None = None
    source_accuracy: Accuracy | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    model: str | None = None
    version: str | None = None
    sha256: str | None = None
    dataset: str | None = None
    method: str | None = None
    classes: tuple[str, ...] = ()
    all_classes: tuple[str, ...] = ()
    data: DataIdentity | None = None


@dataclass(frozen=True)
class Dependency:
    """A package this one needs, optionally pinned to the digest of its manifest."""

    name: PackageName
    specifier: SpecifierSet
    sha256: str | None = None

    @property
    def requirement(self) -> Requirement:
        return Requirement(self.name, self.specifier)


@dataclass(frozen=True)
class Manifest:
    name: PackageName
    version: Version
    kind: str
    description: str = ""
    license: str = "unknown"
    source: Source = Source()
    architecture: Architecture | None = None
    metrics: Metrics = Metrics()
    dependencies: tuple[Dependency, ...] = ()
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """`namespace/name==version`, the way people write one exact package."""
        return f"{self.name}=={self.version}"

    def dependency(self, name: str | PackageName | None) -> Dependency | None:
        """The [dependencies] entry for `name` (e.g. architecture.vocabulary, the embedding), if any."""
        return next((d for d in self.dependencies if str(d.name) == str(name)), None) if name else None

    @property
    def embedding(self) -> Dependency | None:
        """The dependency the network reads tokens with (sequence packages), pinned by sha256."""
        return self.dependency(self.architecture.vocabulary) if self.architecture else None

    def with_files(self, files: Mapping[str, FileEntry], *, where: str = MANIFEST_NAME) -> Manifest:
        check_file_names(files, where=where)
        return replace(self, files=dict(sorted(files.items())))

    # --- reading ---------------------------------------------------------------------------

    @classmethod
    def from_toml(cls, text: str, *, where: str = MANIFEST_NAME) -> Manifest:
        return cls.from_dict(parse_toml(text, where=where), where=where, source=text)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            text = read_text_file(path)
        except FileNotFoundError:
            raise ManifestError(
                "no manifest here", where=str(path), hint="a package directory holds nnpm.toml"
            ) from None
        return cls.from_toml(text, where=str(path))

    @classmethod
    def from_dict(
        cls, doc: Mapping[str, Any], *, where: str = MANIFEST_NAME, source: str | None = None
    ) -> Manifest:
        schema.validate(doc, "manifest", where=where, source=source)
        pkg = doc["package"]
        return cls(
            name=PackageName.parse(pkg["name"], where=f"{where}: package.name"),
            version=parse_version(pkg["version"], where=f"{where}: package.version"),
            kind=pkg["kind"],
            description=pkg.get("description", ""),
            license=pkg.get("license", "unknown"),
            source=_source(doc.get("source", {}), where),
            architecture=_architecture(doc["architecture"]) if "architecture" in doc else None,
            metrics=_metrics(doc.get("metrics", {})),
            dependencies=_dependencies(doc.get("dependencies", {}), where),
            files=_files(doc.get("files", {}), where),
            provenance=dict(doc.get("provenance", {})),
        )

    # --- writing ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "package": _drop_empty(
                {
                    "name": str(self.name),
                    "version": str(self.version),
                    "kind": self.kind,
                    "description": self.description,
                    "license": self.license,
                }
            )
        }
        source = _drop_empty(
            {
                "model": self.source.model,
                "version": self.source.version,
                "sha256": self.source.sha256,
                "dataset": self.source.dataset,
                "method": self.source.method,
                "classes": list(self.source.classes),
                "all_classes": list(self.source.all_classes),
                "data": self.source.data.to_dict() if self.source.data else None,
            }
        )
        if source:
            doc["source"] = source
        if self.architecture is not None:
            doc["architecture"] = _architecture_dict(self.architecture)
        metrics = _metrics_dict(self.metrics)
        if metrics:
            doc["metrics"] = metrics
        if self.dependencies:
            doc["dependencies"] = {
                str(dep.name): (
                    {"version": str(dep.specifier), "sha256": dep.sha256}
                    if dep.sha256
                    else str(dep.specifier)
                )
                for dep in sorted(self.dependencies, key=lambda d: d.name)
            }
        if self.provenance:
            doc["provenance"] = dict(self.provenance)
        if self.files:
            doc["files"] = {
                path: {"sha256": e.sha256, "size": e.size} for path, e in sorted(self.files.items())
            }
        return doc

    def to_toml(self) -> str:
        """Deterministic TOML: the same manifest always gives the same bytes (and digest)."""
        import tomlkit  # only writing needs it (reading is tomllib's): it costs start-up otherwise

        return tomlkit.dumps(_sorted_tables(self.to_dict(), scalars=(*_TOML_SCALARS, tomlkit.items.Item)))

    def digest(self) -> str:
        """sha256 of the manifest as written: it covers every file through the files table."""
        return sha256_bytes(self.to_toml().encode("utf-8"))


# --- helpers -------------------------------------------------------------------------------------


def _drop_empty(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v not in (None, "", [], {}, ())}


_TOML_SCALARS = (str, bool, int, float, dt.date, dt.time)


def _sorted_tables(
    value: Any, path: tuple[str, ...] = (), *, scalars: tuple[type, ...] = _TOML_SCALARS
) -> Any:
    """`value` as plain tables and arrays for tomlkit, refusing what TOML cannot hold (None, a set,
    any other object) as a ManifestError that names the field, instead of tomlkit's ConvertError."""
    if isinstance(value, Mapping):
        return {k: _sorted_tables(v, (*path, str(k)), scalars=scalars) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sorted_tables(v, (*path, str(i)), scalars=scalars) for i, v in enumerate(value)]
    if not isinstance(value, scalars):
        what = "None" if value is None else f"a {type(value).__name__}"
        raise ManifestError(
            f"{'.'.join(path)}: {what} cannot be written in TOML",
            where=MANIFEST_NAME,
            hint="TOML has no null: leave the key out, or give a string, number, boolean, array or table",
        )
    return value


def _source(table: Mapping[str, Any], where: str) -> Source:
    if table.get("model"):
        PackageName.parse(table["model"], where=f"{where}: source.model")
    if table.get("version"):
        parse_version(table["version"], where=f"{where}: source.version")
    return Source(
        model=table.get("model"),
        version=table.get("version"),
        sha256=table.get("sha256"),
        dataset=table.get("dataset"),
        method=table.get("method"),
        classes=tuple(table.get("classes", ())),
        all_classes=tuple(table.get("all_classes", ())),
        data=DataIdentity.from_dict(table["data"], where=where) if "data" in table else None,
    )


def _architecture(table: Mapping[str, Any]) -> Architecture:
    inp = table["input"]
    return Architecture(
        family=table["family"],
        input=InputSpec(
            shape=tuple(inp["shape"]),
            mean=tuple(inp.get("mean", ())),
            std=tuple(inp.get("std", ())),
            dtype=inp.get("dtype", "float32"),
        ),
        params=dict(table.get("params", {})),
        retained={k: tuple(v) for k, v in table.get("retained", {}).items()},
        vocabulary=table.get("vocabulary"),
    )


def _architecture_dict(arch: Architecture) -> dict[str, Any]:
    inp = _drop_empty(
        {"shape": list(arch.input.shape), "mean": list(arch.input.mean), "std": list(arch.input.std)}
    )
    if arch.input.dtype != "float32":
        inp["dtype"] = arch.input.dtype
    out: dict[str, Any] = {"family": arch.family, "input": inp}
    if arch.vocabulary:
        out["vocabulary"] = arch.vocabulary
    if arch.params:
        out["params"] = dict(arch.params)
    if arch.retained:
        out["retained"] = {k: list(v) for k, v in arch.retained.items()}
    return out


def _accuracy(table: Mapping[str, Any] | None) -> Accuracy | None:
    if not table:
        return None
    return Accuracy(
        value=float(table["value"]),
        metric=table.get("metric", "accuracy"),
        dataset=table.get("dataset", ""),
        split=table.get("split", "test"),
    )


def _accuracy_dict(acc: Accuracy | None) -> dict[str, Any] | None:
    if acc is None:
        return None
    return _drop_empty({"value": acc.value, "metric": acc.metric, "dataset": acc.dataset, "split": acc.split})


def _metrics(table: Mapping[str, Any]) -> Metrics:
    return Metrics(
        unit=table.get("unit", "kernels"),
        retained=table.get("retained"),
        total=table.get("total"),
        retention_rate=table.get("retention_rate"),
        accuracy=_accuracy(table.get("accuracy")),
        source_accuracy=_accuracy(table.get("source_accuracy")),
        extra=dict(table.get("extra", {})),
    )


def _metrics_dict(m: Metrics) -> dict[str, Any]:
    out = _drop_empty(
        {
            "retained": m.retained,
            "total": m.total,
            "retention_rate": m.retention_rate,
            "accuracy": _accuracy_dict(m.accuracy),
            "source_accuracy": _accuracy_dict(m.source_accuracy),
            "extra": dict(m.extra),
        }
    )
    if out:
        out = {"unit": m.unit, **out}
    return out


def _dependencies(table: Mapping[str, Any], where: str) -> tuple[Dependency, ...]:
    deps = []
    for name, value in table.items():
        at = f"{where}: dependencies.{name}"
        spec, digest = (
            (value, None) if isinstance(value, str) else (value.get("version", ""), value.get("sha256"))
        )
        deps.append(Dependency(PackageName.parse(name, where=at), parse_specifier(spec, where=at), digest))
    return tuple(sorted(deps, key=lambda d: d.name))


def _files(table: Mapping[str, Any], where: str) -> dict[str, FileEntry]:
    check_file_names(table, where=f"{where}: files")
    return {
        check_relative_path(path, where=f"{where}: files"): FileEntry(entry["sha256"], int(entry["size"]))
        for path, entry in sorted(table.items())
    }
