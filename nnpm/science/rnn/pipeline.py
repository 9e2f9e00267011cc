"""End to end for classifiers and taggers: train -> embedding + model packages -> module packages.

What the CLI (`nnpm train rnn`, `nnpm decompose`), the benchmarks and the tests call.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from nnpm.composition.evaluate_text import binary_accuracy
from nnpm.datasets.identity import identify
from nnpm.datasets.text import TextData
from nnpm.package.manifest import Accuracy, Architecture, InputSpec, Manifest, Source
from nnpm.package.naming import PackageName
from nnpm.progress import NULL, Progress
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import packaging as pk
from nnpm.science.rnn import train as tr

FAMILY = {"tag": "rnn-tagger", "classify": "rnn-classifier"}
ROLE = {"tag": "tagger", "classify": "classifier"}


def data_options(data: TextData, extra: dict[str, Any]) -> dict[str, Any]:
    """What is needed to load the same splits again (stored in provenance)."""
    return {"dataset": data.name, "max_len": data.max_len, **extra}


def train_model(data: TextData, config: tr.TrainConfig, out: Path, namespace: str, *,
                embedding: tuple[Manifest, Any] | None = None, data_provenance: dict | None = None,
                version: str = pk.DEFAULT_VERSION, reporter: Progress = NULL) -> dict[str, Any]:  # fmt: skip
    """Train a tagger or classifier; write `<out>/embedding` (unless an existing embedding package is
    given, which is then used frozen) and `<out>/<cell>-<role>`. Returns manifests, paths and figures."""
    out = Path(out)
    prov = {
        "data": data_options(data, data_provenance or {}),
        "split": data.split_note,
        "train": asdict(config),
    }
    if embedding is None:
        emb_net = tr.new_embedding(data, config.embedding_dim, config.seed)
    else:
        emb_manifest, emb_net = embedding
    net = tr.new_sequence_net(data, emb_net, config)
    result = tr.train_sequence(net, data, config, freeze_embedding=embedding is not None, reporter=reporter)
    prov["train_result"] = {"epoch_seconds": [round(s, 2) for s in result.epoch_seconds],
                            "val_accuracy": [round(v, 4) for v in result.val_scores], "best_epoch": result.best_epoch}  # fmt: skip
    if embedding is None:
        emb_manifest = pk.embedding_manifest(
            f"{namespace}/embedding", vocab_size=len(data.vocab), dim=config.embedding_dim, max_len=data.max_len,
            dataset=data.name, provenance={"data": prov["data"], "split": data.split_note, "seed": config.seed},
            version=version, tokenizer=data.meta.get("tokenizer"),
        )  # fmt: skip
        emb_manifest = pk.write_embedding(out / "embedding", emb_manifest, emb_net)
    acc = tr.accuracy(net, data.test)
    name = f"{namespace}/{config.cell}-{ROLE[data.task]}"
    manifest = Manifest(
        name=PackageName.parse(name),
        version=pk.Version(version),
        kind="model",
        description=f"{config.layers}-layer {config.cell.upper()} {ROLE[data.task]} on {data.name}",
        source=Source(dataset=data.name, method="train", all_classes=data.classes, data=identify(data)),
        architecture=model_architecture(data, net, str(emb_manifest.name)),
        metrics=pk.units_metrics(
            net.rnn.sizes, net.rnn.sizes, _acc(acc, data), None, {"classes": len(data.classes)}
        ),
        dependencies=(pk.pin(emb_manifest),),
        provenance=prov,
    )
    manifest = pk.write_network(out / name.split("/")[1], manifest, net)
    return {"embedding": emb_manifest, "model": manifest, "net": net, "accuracy": acc, "train": result,
            "model_dir": out / name.split("/")[1]}  # fmt: skip


def model_architecture(
    data: TextData, net, vocabulary: str, *, output: str = "logits", retained=None
) -> Architecture:
    return Architecture(
        family=FAMILY[data.task],
        input=InputSpec(shape=(data.max_len,), dtype="int64"),
        params={
            "cell": net.rnn.cell,
            "embedding_dim": int(net.embedding.weight.shape[1]),
            "hidden_sizes": list(net.rnn.sizes),
            "num_outputs": int(net.head.out_features),
            "output": output,
        },
        retained=retained or {},
        vocabulary=vocabulary,
    )


def _acc(value: float, data: TextData, metric: str | None = None) -> Accuracy:
    metric = metric or ("token-accuracy (non-padding)" if data.task == "tag" else "accuracy")
    return Accuracy(round(float(value), 6), metric, data.name, "test")


def decompose_model(model: Manifest, net, emb_manifest: Manifest, data: TextData, out: Path,
                    config: dec.DecomposeConfig | None = None, *, classes: list[str] | None = None,
                    reporter: Progress = NULL) -> dict[str, Any]:  # fmt: skip
    """Decompose a model package's network into module packages `<namespace>/<class>-module` under `out`."""
    config = config or dec.DecomposeConfig()
    wanted = None if classes is None else [data.classes.index(c) for c in classes]
    result = dec.decompose(net, data, config, classes=wanted, reporter=reporter)
    nets = [m.net for m in result.modules]
    pred = dec.compose_predict(nets, data.test.x)
    index = torch.tensor([m.index for m in result.modules])
    y = data.test.y
    composed = tr.accuracy_of(index[pred], y) if wanted is None else None
    source_acc = model.metrics.accuracy
    written, identity = [], identify(data)
    for m in result.modules:
        scores = tr.predict(m.net, data.test.x).squeeze(-1)
        binary = binary_accuracy(scores, y, m.index)
        extra = {
            "decomposition_seconds": round(result.seconds, 3),
            "decomposition_mode": config.mode,
            "composed_accuracy": None if composed is None else round(composed, 6),
        }
        extra = {k: v for k, v in extra.items() if v is not None}
        manifest = Manifest(
            name=PackageName.parse(f"{model.name.namespace}/{pk.slug(m.cls)}-module"),
            version=model.version,
            kind="module",
            description=f"{m.cls!r} module of {model.id}: calibrated log p({m.cls})",
            source=Source(
                model=str(model.name),
                version=str(model.version),
                sha256=model.digest(),
                dataset=data.name,
                method=pk.METHOD,
                classes=(m.cls,),
                all_classes=data.classes,
                data=identity,
            ),  # fmt: skip
            architecture=model_architecture(
                data,
                m.net,
                str(emb_manifest.name),
                output="log-positive",
                retained={f"rnn.{i}": [int(v) for v in k] for i, k in enumerate(m.keep)},
            ),  # fmt: skip
            metrics=pk.units_metrics(
                m.net.rnn.sizes,
                net.rnn.sizes,
                _acc(binary, data, "one-vs-rest balanced accuracy"),
                source_acc,
                extra,
            ),
            dependencies=(pk.pin(emb_manifest), pk.pin(model)),
            provenance={
                "decompose": {
                    **dec.recorded(config),
                    "cap": result.cap,
                    "cap_choice": result.choice,
                    "samples": m.samples,
                },  # fmt: skip
                "data": model.provenance.get("data", {}),
                "split": data.split_note,
                "decomposition_seconds": round(result.seconds, 3),
            },  # fmt: skip
        )
        written.append(pk.write_network(Path(out) / f"{pk.slug(m.cls)}-module", manifest, m.net))
    return {"modules": written, "composed_accuracy": composed, "seconds": result.seconds, "result": result,
            "cap": result.cap, "cap_choice": result.choice}  # fmt: skip


def load_data_for(model: Manifest, emb_net, data_dir: Path | None = None) -> TextData:
    """The model's dataset, split as at training time, encoded with its embedding package's vocabulary."""
    from nnpm.datasets.text_loaders import load_recorded
    from nnpm.datasets.vocab import Vocab

    data = load_recorded(model.provenance.get("data", {}), Vocab(tuple(emb_net.tokens)), data_dir=data_dir)
    check_tokenizer(emb_net, data)
    return data


def check_tokenizer(emb_net, data: TextData) -> None:
    """The reloaded data must be cut into tokens as the embedding package records (when it does)."""
    from nnpm.datasets import tokenize as tok

    manifest = getattr(emb_net, "manifest", None)
    if manifest is None or manifest.architecture is None or "tokenizer" not in data.meta:
        return
    rule = tok.of_embedding(dict(manifest.architecture.params), str(manifest.source.dataset or ""))
    if rule is not None:
        tok.check_same(rule, data.meta["tokenizer"], manifest.id)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
