"""`nnpm eval` for sequence packages: taggers, sentence classifiers, translators, their modules
and composites, measured the way their manifests claim (docs/compose.md):

- tagging or classifying model: accuracy over non-padding positions (every sentence for a classifier);
- module: one-vs-rest balanced accuracy of p(class) >= 0.5 over non-padding positions;
- composite: accuracy of the argmax over its classes, on the positions labelled with one of them;
- translator, language module or routed composite: corpus BLEU-4 (characters) on the test pairs
  of the languages it serves.

The data are loaded as at training time: the dataset and options recorded in the package's
provenance, encoded with the vocabulary of its embedding package, so token ids mean the same.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnpm.composition.evaluate import ClassStats, EvalResult, beside_claim, class_indices, per_class_stats
from nnpm.datasets.text import IGNORE, TextData, TextSplit
from nnpm.errors import DataError
from nnpm.nn.bleu import corpus_bleu
from nnpm.nn.metrics import module_balanced_accuracy
from nnpm.nn.rnn.infer import predict, route, strip
from nnpm.package.manifest import Manifest


def is_sequence_package(manifest: Manifest) -> bool:
    """Sequence networks read token ids through an embedding package (architecture.vocabulary)."""
    return manifest.architecture is not None and manifest.architecture.vocabulary is not None


def load_text_for(net, dataset: str | None = None, data_dir: Path | None = None) -> TextData:
    """The dataset a sequence package was made on, split and encoded as at training time."""
    from nnpm.datasets.text_loaders import load_recorded
    from nnpm.datasets.vocab import Vocab

    recorded = _recording_manifest(net)
    options = recorded.provenance.get("data", {})
    name = options.get("dataset")
    if name is None:
        raise DataError(
            f"{net.manifest.name} records no dataset in its provenance",
            hint="only packages made by nnpm train / decompose / compose can be re-measured",
        )
    if dataset and dataset != name:
        raise DataError(
            f"{net.manifest.name} was made on {name}, not {dataset}: its labels and vocabulary are {name}'s",
            where="--dataset",
            hint=f"drop --dataset or pass --dataset {name}",
        )
    routed = getattr(net, "mode", None) == "routed"  # a language may come from another model: ask for all
    vocab = Vocab(tuple(_first_network(net).embedding.tokens))
    return load_recorded(options, vocab, data_dir=data_dir, languages=tuple(net.classes) if routed else None)


def evaluate_text(net, data: TextData, split: str = "test") -> EvalResult:
    """Measure a loaded sequence package on one split of `data`."""
    manifest = net.manifest
    part: TextSplit = getattr(data, split)
    if data.task == "translate":
        value, n, per_class = _bleu(net, data, part)
        metric = "bleu-4 (characters)"
    elif manifest.kind == "model":
        value, n, per_class = _model_accuracy(net, part, data)
        metric = "token-accuracy (non-padding)" if data.task == "tag" else "accuracy"
    elif manifest.kind == "module":
        value, n = _module_balanced_accuracy(net, part, data)
        metric, per_class = "one-vs-rest balanced accuracy", {}
    else:
        value, n, per_class = _composite_accuracy(net, part, data)
        metric = "accuracy"
    return beside_claim(manifest, metric, data, split, value, n, per_class)


def _model_accuracy(net, part: TextSplit, data: TextData):
    pred, y = _valid(predict(net, part.x).argmax(-1), part.y)
    labels = list(range(len(data.classes)))
    return float((pred == y).float().mean()), len(y), per_class_stats(pred, y, labels, data.classes)


def _module_balanced_accuracy(net, part: TextSplit, data: TextData) -> tuple[float, int]:
    (cls,) = class_indices(net.manifest.source.classes, data)
    scores = predict(net, part.x).squeeze(-1)
    return binary_accuracy(scores, part.y, cls), int((part.y != IGNORE).sum())


def _composite_accuracy(net, part: TextSplit, data: TextData):
    wanted = torch.tensor(class_indices(net.classes, data))
    pred, y = _valid(wanted[predict(net, part.x).argmax(-1)], part.y)
    keep = torch.isin(y, wanted)
    if not keep.any():
        raise DataError(f"no position labelled {', '.join(net.classes)} in the {data.name} split")
    pred, y = pred[keep], y[keep]
    return float((pred == y).float().mean()), len(y), per_class_stats(pred, y, wanted.tolist(), data.classes)


def _bleu(net, data: TextData, part: TextSplit) -> tuple[float, int, dict[str, ClassStats]]:
    modules = list(net.parts) if hasattr(net, "parts") else [net]
    served = class_indices([lang for m in modules for lang in m.languages], data)
    rows = torch.nonzero(torch.isin(part.group, torch.tensor(served))).flatten()
    if len(rows) == 0:
        raise DataError(f"no test pair of the languages {net.manifest.source.classes} in {data.name}")
    return bleu_scores(modules, data, part.subset(rows))["bleu4"], len(rows), {}


def _valid(pred: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and labels at the non-padding positions only (all of them for classifiers)."""
    valid = y != IGNORE
    return pred[valid], y[valid]


def _first_network(net):
    return net.parts[0] if hasattr(net, "parts") else net


def _recording_manifest(net) -> Manifest:
    """Whose provenance says how the data were loaded: the package's own, or its first module's."""
    return _first_network(net).manifest if net.manifest.kind == "composite" else net.manifest


def bleu_scores(
    modules: list[torch.nn.Module], data: TextData, split: TextSplit | None = None
) -> dict[str, float]:
    """Corpus BLEU-4 and BLEU-1 (character tokens) of routed translations of `split` (default: test)."""
    split = split or data.test
    eos = data.meta["eos_id"]
    langs = [data.classes[g] for g in split.group.tolist()]
    hyps = route(modules, split.x, langs, data.max_len, eos)
    refs = [strip([t for t in row if t != IGNORE], eos) for row in split.y.tolist()]
    hyp_tokens = [data.vocab.decode(h) for h in hyps]
    ref_tokens = [data.vocab.decode(r) for r in refs]
    exact = sum(h == r for h, r in zip(hyp_tokens, ref_tokens, strict=True)) / max(1, len(refs))
    return {"bleu4": corpus_bleu(hyp_tokens, ref_tokens, 4), "bleu1": corpus_bleu(hyp_tokens, ref_tokens, 1),
            "exact_match": exact}  # fmt: skip


def binary_accuracy(scores: torch.Tensor, y: torch.Tensor, cls: int) -> float:
    """One-vs-rest balanced accuracy of a sequence module's decision p(class) >= 0.5 on
    non-padding positions (the figure `nnpm eval` measures for a module)."""
    valid = y != IGNORE
    return module_balanced_accuracy(scores[valid], y[valid] == cls)
