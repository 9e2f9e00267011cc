"""Assembling module packages into a composite, and writing it as a package.

`compose(["fmnist/sneaker-module", "fmnist/ankle-boot-module"], locate, loader)` loads each
module (hash-checked, built by nnpm), checks that they can go together, and returns a
`Composite` whose forward gives calibrated scores over `.classes`. Where packages come
from is the caller's: `locate` turns a name (or a `./directory`) into a package on disk
and `loader` builds it, so the same code composes installed modules and fresh builds.
`write_composite` turns a composite into a package of kind `composite` that depends on
its modules by exact version and sha256 and stores nothing but what it adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from nnpm.errors import CompositionError
from nnpm.nn.composite.model import TRANSLATOR_FAMILY, Composite, Router, assemble, common_source
from nnpm.nn.loader import Loader, PackageRef
from nnpm.package.families import get as get_family
from nnpm.package.manifest import Accuracy, Architecture, Dependency, Manifest, Metrics, Source
from nnpm.package.naming import PackageName, Requirement

#: Turns what a user typed (a package name and version range, or `./dir`) into a package on disk.
Locate = Callable[[str], PackageRef]


@dataclass(frozen=True)
class Part:
    """One module in a composite: its loaded network and the digest it is pinned by."""

    network: object  # torch.nn.Module with .manifest
    sha256: str

    @property
    def manifest(self) -> Manifest:
        return self.network.manifest

    @property
    def classes(self) -> tuple[str, ...]:
        return self.manifest.source.classes

    @property
    def label(self) -> str:
        return f"{self.manifest.name}=={self.manifest.version}"


def compose(
    specs: Sequence[str], locate: Locate, loader: Loader, *, replace: Mapping[str, str] | None = None
) -> Composite | Router:
    """A working classifier (or, from translation modules, translator) from module packages.

    Composites named among `specs` are expanded into their modules. `replace` maps a class
    (or language) to another module for it: the way to patch one weak class with a module
    taken from another model, or to add a language from another translator.
    """
    parts = [part for spec in specs for part in _load_parts(locate(spec), loader)]
    parts = _apply_replacements(parts, replace or {}, locate, loader)
    check_compatible(parts)
    composite = assemble([p.network for p in parts], loader)
    composite.parts_info = tuple(parts)
    return composite


def _load_parts(ref: PackageRef, loader: Loader) -> list[Part]:
    network = loader.load(ref)
    manifest = network.manifest
    if manifest.kind == "composite":
        deps = {str(d.name): d for d in manifest.dependencies}
        return [
            part
            for name in manifest.architecture.params["modules"]
            for part in _load_parts(loader.find(deps[name].requirement, deps[name].sha256), loader)
        ]
    if manifest.kind != "module":
        raise CompositionError(
            f"{manifest.name} is a {manifest.kind}, not a module",
            hint="compose module packages (kind = module), or composites made of them",
        )
    return [Part(network, ref.sha256 or manifest.digest())]


def _apply_replacements(parts: list[Part], replace: Mapping[str, str], locate: Locate, loader) -> list[Part]:
    for class_name, spec in replace.items():
        loaded = _load_parts(locate(spec), loader)
        if len(loaded) != 1:
            raise CompositionError(
                f"--replace {class_name}={spec}: expected one module, {spec} holds {len(loaded)}"
            )
        new = loaded[0]
        if class_name not in new.classes:
            raise CompositionError(
                f"--replace {class_name}={spec}: {new.label} does not serve class {class_name!r}"
            )
        old = [p for p in parts if class_name in p.classes]
        if not old:
            raise CompositionError(
                f"--replace {class_name}=...: no module in the composite serves class {class_name!r}"
            )
        if any(len(p.classes) > 1 for p in old):
            raise CompositionError(
                f"--replace {class_name}=...: {old[0].label} serves several classes; replace it whole"
            )
        parts = [new if p is old[0] else p for p in parts]
    return parts


def check_compatible(parts: Sequence[Part]) -> None:
    """Refuse what cannot work: different inputs, clashing embeddings, two modules for one class."""
    if not parts:
        raise CompositionError("nothing to compose", hint="name at least one module package")
    first = parts[0]
    for part in parts[1:]:
        translators = [p.manifest.architecture.family == TRANSLATOR_FAMILY for p in (first, part)]
        if translators[0] != translators[1]:
            raise CompositionError(
                f"{first.label} and {part.label} cannot go together: one translates, the other classifies",
                hint="compose translation modules with translation modules only",
            )
        a, b = first.manifest.architecture.input, part.manifest.architecture.input
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            raise CompositionError(
                f"{first.label} takes {a.dtype} inputs of shape {list(a.shape)}, "
                f"{part.label} takes {b.dtype} inputs of shape {list(b.shape)}"
            )
        if _embedding(first) != _embedding(part):
            raise CompositionError(
                f"embeddings clash: {first.label} reads tokens with {_describe_embedding(first)}, "
                f"{part.label} with {_describe_embedding(part)}",
                hint="compose modules trained on the same embedding package (nnpm train rnn --embedding ...)",
            )
    seen: dict[str, Part] = {}
    for part in parts:
        for cls in part.classes:
            if cls in seen:
                raise CompositionError(
                    f"two modules serve class {cls!r}: {seen[cls].label} and {part.label}",
                    hint=f"keep one, or patch the class with --replace {cls}=<module>",
                )
            seen[cls] = part


def _embedding(part: Part) -> tuple[str | None, str | None]:
    vocab = part.manifest.architecture.vocabulary
    pin = part.manifest.embedding.sha256 if part.manifest.embedding else None
    return vocab, pin


def _describe_embedding(part: Part) -> str:
    vocab, pin = _embedding(part)
    return f"{vocab} (sha256 {pin[:12]})" if pin else str(vocab)


# --- the composite package -----------------------------------------------------------------------


def composite_manifest(
    name: str,
    version: str,
    composite: Composite,
    *,
    description: str = "",
    accuracy: Accuracy | None = None,
    finetune: Mapping[str, object] | None = None,
) -> Manifest:
    """kind = composite: depends on each module by exact version and sha256; holds only its additions."""
    parts: tuple[Part, ...] = composite.parts_info
    first = parts[0].manifest
    datasets = sorted({p.manifest.source.dataset or "" for p in parts} - {""})
    data = first.source.data if all(p.manifest.source.data == first.source.data for p in parts) else None
    return Manifest(
        name=PackageName.parse(name),
        version=Version(version),
        kind="composite",
        description=description
        or f"Composite of {len(parts)} modules serving {', '.join(composite.classes)}.",
        license=first.license,
        source=Source(
            dataset="+".join(datasets) or None,
            method="compose",
            classes=composite.classes,
            all_classes=composite.classes,
            data=data,  # only when every module came from the same data
        ),
        architecture=Architecture(
            family="composite",
            input=first.architecture.input,
            params={
                "rule": composite.rule,
                "modules": [str(p.manifest.name) for p in parts],
                "classes": list(composite.classes),
                "finetuned": composite.adjust is not None,
                **({} if isinstance(composite, Router) else _fusion_note(parts)),
            },
            vocabulary=first.architecture.vocabulary,
        ),
        metrics=Metrics(unit="parameters", accuracy=accuracy),
        dependencies=tuple(
            Dependency(p.manifest.name, SpecifierSet(f"=={p.manifest.version}"), p.sha256) for p in parts
        )
        + _embedding_pin(first),
        provenance={**(finetune or {}), **_shared_data(parts)},
    )


def _shared_data(parts: tuple[Part, ...]) -> dict:
    """The modules' recorded loader options (provenance.data), when they all agree: what `nnpm eval`
    reloads the composite's splits with."""
    recorded = [p.manifest.provenance.get("data") for p in parts]
    return {"data": dict(recorded[0])} if recorded[0] and all(r == recorded[0] for r in recorded) else {}


def _embedding_pin(manifest: Manifest) -> tuple[Dependency, ...]:
    """Sequence composites read tokens too, so they pin the embedding package their modules share."""
    return (manifest.embedding,) if manifest.embedding else ()


def write_composite(directory: Path, manifest: Manifest, composite: Composite) -> Manifest:
    from nnpm.package.writer import write_package

    return write_package(directory, manifest, composite.own_state_dict())


def parse_replacements(items: Sequence[str]) -> dict[str, str]:
    """`bag=other/bag-module` -> {"bag": "other/bag-module"}, validating the module name."""
    out = {}
    for item in items:
        cls, sep, spec = item.partition("=")
        if not sep or not cls or not spec:
            raise CompositionError(
                f"--replace {item!r}: expected CLASS=MODULE", hint="e.g. --replace bag=other/bag-module"
            )
        Requirement.parse(spec)
        out[cls] = spec
    return out


def _fusion_note(parts: Sequence[Part]) -> dict[str, str]:
    """Tell readers (`nnpm show`) whether loading can run one fused forward, and over which model."""
    source = common_source([p.manifest for p in parts])
    if source is None or get_family(parts[0].manifest.architecture.family).fuser is None:
        return {"forward": "batched"}
    return {"forward": "fused", "fused_source": str(source)}
