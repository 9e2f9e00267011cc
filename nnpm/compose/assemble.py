"""Assembling installed module packages into a composite, and writing it as a package.

`compose("fmnist/sneaker-module", "fmnist/ankle-boot-module")` loads each module
(hash-checked, built by nnpm), checks that they can go together, and returns a
`Composite` whose forward gives calibrated scores over `.classes`. `write_composite`
turns it into a package of kind `composite` that depends on its modules by exact
version and sha256 and stores nothing but what it adds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from nnpm.compose.composite import Composite, Router
from nnpm.errors import CompositionError
from nnpm.nn.families import BuildContext
from nnpm.package.manifest import Accuracy, Architecture, Dependency, Manifest, Metrics, Source
from nnpm.package.naming import PackageName, Requirement
from nnpm.store.store import InstalledPackage


@dataclass(frozen=True)
class Part:
    """One module in a composite: its installed package and its loaded network."""

    package: InstalledPackage
    network: object  # torch.nn.Module with .manifest

    @property
    def manifest(self) -> Manifest:
        return self.network.manifest

    @property
    def classes(self) -> tuple[str, ...]:
        return self.manifest.source.classes

    @property
    def label(self) -> str:
        return f"{self.package.name}=={self.package.version}"


TRANSLATOR_FAMILY = "rnn-seq2seq"


def compose(*specs: str, replace: Mapping[str, str] | None = None, project=True) -> Composite | Router:
    """A working classifier (or, from translation modules, translator) from installed modules.

    Composites named among `specs` are expanded into their modules. `replace` maps a class
    (or language) to another module for it: the way to patch one weak class with a module
    taken from another model, or to add a language from another translator.
    """
    parts = [part for spec in specs for part in _load_parts(spec, project)]
    parts = _apply_replacements(parts, replace or {}, project)
    check_compatible(parts)
    composite = assemble([p.network for p in parts])
    composite.parts_info = tuple(parts)
    return composite


def assemble(networks: Sequence) -> Composite | Router:
    """Route translation modules by language; put classifier modules side by side (fused if possible)."""
    if networks[0].manifest.architecture.family == TRANSLATOR_FAMILY:
        return Router(networks)
    classes = [c for n in networks for c in n.manifest.source.classes]
    return Composite(networks, classes, fused=fuse_if_possible(networks))


def common_source(manifests: Sequence[Manifest]) -> Requirement | None:
    """`model==version` when every module was cut from the same source model build, else None."""
    sources = {(m.source.model, m.source.version, m.source.sha256) for m in manifests}
    if len(sources) != 1:
        return None
    model, version, sha256 = sources.pop()
    if not (model and version and sha256):
        return None
    return Requirement.of(model, f"=={version}")


def fuse_if_possible(networks: Sequence) -> object | None:
    """One fused forward when all modules share an installed source model whose family can fuse."""
    from nnpm.nn import families
    from nnpm.nn.loader import load_installed
    from nnpm.store.store import Store

    manifests = [n.manifest for n in networks]
    source = common_source(manifests)
    fuser = families.fuser(manifests[0].architecture.family) if source else None
    if fuser is None:
        return None
    installed = Store().get(source.name, next(iter(source.specifier)).version)
    if installed is None or installed.sha256 != manifests[0].source.sha256:
        return None
    return fuser(load_installed(installed), manifests)


def _load_parts(spec: str, project) -> list[Part]:
    from nnpm.api import resolve_installed
    from nnpm.nn.loader import load_installed

    package = resolve_installed(spec, project=project)
    network = load_installed(package)
    manifest = network.manifest
    if manifest.kind == "composite":
        return [
            p
            for name in manifest.architecture.params["modules"]
            for p in _dependency_parts(manifest, name, project)
        ]
    if manifest.kind != "module":
        raise CompositionError(
            f"{package.name} is a {manifest.kind}, not a module",
            hint="compose module packages (kind = module), or composites made of them",
        )
    return [Part(package, network)]


def _dependency_parts(manifest: Manifest, name: str, project) -> list[Part]:
    dep = next(d for d in manifest.dependencies if str(d.name) == name)
    return _load_parts(str(dep.requirement), project)


def _apply_replacements(parts: list[Part], replace: Mapping[str, str], project) -> list[Part]:
    for class_name, spec in replace.items():
        loaded = _load_parts(spec, project)
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
    pin = next((d.sha256 for d in part.manifest.dependencies if str(d.name) == vocab), None)
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
        ),
        architecture=Architecture(
            family="composite",
            input=first.architecture.input,
            params={
                "rule": "route-by-language" if isinstance(composite, Router) else "argmax-calibrated",
                "modules": [str(p.package.name) for p in parts],
                "classes": list(composite.classes),
                "finetuned": composite.adjust is not None,
                **({} if isinstance(composite, Router) else _fusion_note(parts)),
            },
            vocabulary=first.architecture.vocabulary,
        ),
        metrics=Metrics(unit="parameters", accuracy=accuracy),
        dependencies=tuple(
            Dependency(p.package.name, SpecifierSet(f"=={p.package.version}"), p.package.sha256)
            for p in parts
        )
        + _embedding_pin(first),
        provenance=dict(finetune or {}),
    )


def _embedding_pin(manifest: Manifest) -> tuple[Dependency, ...]:
    """Sequence composites read tokens too, so they pin the embedding package their modules share."""
    vocab = manifest.architecture.vocabulary
    return tuple(d for d in manifest.dependencies if str(d.name) == vocab) if vocab else ()


def write_composite(directory: Path, manifest: Manifest, composite: Composite) -> Manifest:
    from nnpm.package.writer import write_package

    return write_package(directory, manifest, composite.own_state_dict())


def build_composite(arch: Architecture, context: BuildContext) -> Composite | Router:
    """Family builder: the modules come from the verified dependencies, in the recorded order."""
    modules = [context.dependencies[name] for name in arch.params["modules"]]
    if arch.params.get("rule") == "route-by-language":
        return Router(modules)
    adjust = bool(arch.params.get("finetuned"))
    return Composite(modules, arch.params["classes"], adjust=adjust, fused=fuse_if_possible(modules))


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
    from nnpm.nn import families

    source = common_source([p.manifest for p in parts])
    if source is None or families.get(parts[0].manifest.architecture.family).fuser is None:
        return {"forward": "batched"}
    return {"forward": "fused", "fused_source": str(source)}
