"""What `nnpm train rnn` and `nnpm decompose` do, as plain functions returning a summary of plain
fields (a script reads it as JSON, the CLI prints it); nothing here prints or formats text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnpm.errors import DataError, InvalidInputError
from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.progress import NULL, Progress

DEFAULT_EMBEDDING_DIM = 100

#: Figures a decomposition may report (absent when not measured, e.g. a subset of the classes).
FIGURES = ("composed_accuracy", "model_accuracy", "composed_bleu4", "model_bleu4")

#: the tasks each text dataset serves (tsv: `text, label` columns classify, `source, target, language` translate)
TASK_OF = {
    "brown": ("tag",),
    "chatterbot-lang": ("classify",),
    "chatterbot-topic": ("classify",),
    "num2words": ("translate",),
    "conllu": ("tag",),
    "tsv": ("classify", "translate"),
}
#: loader options of `nnpm train rnn` and the datasets they apply to
DATA_OPTIONS = {
    "case": ("brown", "chatterbot-lang", "chatterbot-topic", "conllu", "tsv"),
    "tag_column": ("conllu",),
    "labels": ("conllu", "tsv"),
    "tokens": ("tsv",),
}


def find_embedding(spec: str, roots: list[Path]) -> Path:
    """The directory of embedding package NAME==VERSION among `roots` (each root or its child named NAME),
    else in the store: the loader's own sources, so a fresh build and an installed package look alike."""
    from nnpm.nn.loader import DirectorySource, Sources, StoreSource
    from nnpm.package.naming import Requirement
    from nnpm.store.store import Store

    name, sep, version = spec.partition("==")
    if not sep or "/" not in name:
        raise InvalidInputError(
            f"--embedding {spec!r} is not NAME==VERSION", hint="e.g. --embedding brown/embedding==1.0.0"
        )
    ref = Sources(DirectorySource(roots), StoreSource(Store())).find(Requirement.parse(spec))
    if ref is None:
        raise DataError(f"embedding package {spec} not found in {', '.join(str(r) for r in roots)} nor installed",
                        hint=f"`nnpm install {spec}`, or pass --embedding-dir with its directory")  # fmt: skip
    kind = Manifest.read(ref.path / MANIFEST_NAME).kind
    if kind != "embedding":
        raise InvalidInputError(f"{spec} is a {kind}, not an embedding package", where=str(ref.path))
    return ref.path


def train_command(*, cell, layers, hidden, embedding_dim, task, dataset, data_dir, languages, namespace, out,
                  embedding_spec, embedding_dir, epochs, batch_size, lr, seed, max_len, limit, version,
                  case=None, tag_column=None, labels=None, tokens=None,
                  reporter: Progress = NULL) -> dict[str, Any]:  # fmt: skip
    from nnpm.datasets import tokenize as tok
    from nnpm.datasets.text_loaders import load_text
    from nnpm.datasets.vocab import Vocab
    from nnpm.package.naming import validate_part
    from nnpm.science.rnn import packaging as pk
    from nnpm.science.rnn.train import TrainConfig

    validate_part(namespace, what="namespace")
    if dataset in TASK_OF and task not in TASK_OF[dataset]:
        raise InvalidInputError(
            f"dataset {dataset!r} is for --task {' or '.join(TASK_OF[dataset])}, not {task}"
        )
    given = {"case": case, "tag_column": tag_column, "labels": labels, "tokens": tokens}
    for key, value in given.items():
        if value is not None and dataset not in DATA_OPTIONS[key]:
            raise InvalidInputError(f"does not apply to {dataset}", where="--" + key.replace("_", "-"),
                                    hint=f"it applies to {', '.join(DATA_OPTIONS[key])}")  # fmt: skip
    embedding, emb_rule = None, None
    if embedding_spec:
        roots = [p for p in (embedding_dir, out, Path(out).parent, Path.cwd()) if p is not None]
        emb_manifest, emb_net, _ = pk.load_directory(find_embedding(embedding_spec, roots))
        embedding = (emb_manifest, emb_net)
        width = int(emb_net.weight.shape[1])
        if embedding_dim is not None and embedding_dim != width:
            raise InvalidInputError(
                f"--embedding {embedding_spec} is {width} wide, not {embedding_dim}",
                where="--embedding-dim",
                hint="drop --embedding-dim: an existing embedding keeps its own width",
            )
        embedding_dim = width
        emb_rule = tok.of_embedding(
            dict(emb_manifest.architecture.params), str(emb_manifest.source.dataset or "")
        )
        if emb_rule is not None and case is None and dataset in DATA_OPTIONS["case"]:
            case = emb_rule["case"]  # a model tokenizes as its embedding does
    embedding_dim = embedding_dim or DEFAULT_EMBEDDING_DIM
    options: dict[str, Any] = {"seed": seed}
    if dataset == "tsv":
        options["task"] = task
    if case is not None:
        options["case"] = tok.check_case(case)
    if tag_column is not None:
        options["tag_column"] = tag_column
    if tokens is not None:
        options["tokens"] = tokens
    if labels is not None:
        from nnpm.datasets.text_files import read_labels

        # recorded as its pairs, not as a path: a reload needs no file
        options["labels"] = [list(pair) for pair in read_labels(Path(labels))]
    if max_len:
        options["max_len"] = max_len
    if limit:
        options["limit"] = limit
    if languages:
        options["languages"] = tuple(languages.split(","))
    data = load_text(
        dataset, data_dir, vocab=None if embedding is None else Vocab(tuple(embedding[1].tokens)), **options
    )
    rule = data.meta.get("tokenizer")
    if emb_rule is not None and rule is not None:
        tok.check_same(emb_rule, rule, embedding_spec)
    if rule is not None and dataset in ("conllu", "tsv"):  # recorded, so a reload never depends on a default
        options.setdefault("case", rule["case"])
        if dataset == "tsv":
            options.setdefault("tokens", rule["tokens"])
    config = TrainConfig(cell=cell, layers=layers, hidden=hidden, embedding_dim=embedding_dim, epochs=epochs,
                         batch_size=batch_size, lr=lr, seed=seed)  # fmt: skip
    prov = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}
    if data_dir is not None:
        prov["data_dir"] = str(Path(data_dir).resolve())
    if task == "translate":
        from nnpm.science.rnn import translate

        built = translate.train_model(data, config, Path(out), namespace, embedding=embedding, data_provenance=prov,
                                      version=version, reporter=reporter)  # fmt: skip
    else:
        from nnpm.science.rnn import pipeline

        built = pipeline.train_model(data, config, Path(out), namespace, embedding=embedding, data_provenance=prov,
                                     version=version, reporter=reporter)  # fmt: skip
    model, emb = built["model"], built["embedding"]
    metric = model.metrics.accuracy
    return {"model": model.id, "model_dir": str(built["model_dir"]), "embedding": emb.id,
            "embedding_sha256": emb.digest(), "embedding_frozen": embedding is not None,
            "embedding_dir": None if embedding else str(Path(out) / "embedding"),
            "accuracy": metric.value, "metric": metric.metric, "split": data.split_note, "format": data.format,
            "epochs": epochs,
            "seconds": sum(built["train"].epoch_seconds)}  # fmt: skip


def decompose_command(*, model_dir, out, mode, cap, positives, pool, classes, seed, data_dir, embedding_dir,
                      refit_sequences: int | None = None, per_class: int | None = None,
                      reporter: Progress = NULL) -> dict[str, Any]:  # fmt: skip
    """cap: a share, or None / "auto" (chosen on validation; translators 0.05). pool / refit_sequences
    None: the task's defaults, counted per class (`per_class`) for classifiers."""
    from nnpm.science.rnn import decompose as dec
    from nnpm.science.rnn import packaging as pk
    from nnpm.science.rnn import select as sel

    cap = sel.parse_cap(cap)

    search = [embedding_dir] if embedding_dir else []
    model, net, emb_manifest = pk.load_directory(Path(model_dir), search=search)
    if model.kind != "model":
        raise InvalidInputError(
            f"{model.id} is a {model.kind}; decompose takes a model package", where=str(model_dir)
        )
    if cap is None and model.architecture.family == "rnn-seq2seq":
        cap = dec.TRANSLATE_DEFAULT_CAP
    if per_class is not None and model.architecture.family != "rnn-classifier":
        raise InvalidInputError(f"--per-class applies to classifiers, not to a {model.architecture.family}",
                                where="--per-class", hint="taggers and translators take --pool / --refit-sequences totals")  # fmt: skip
    per_class = sel.DEFAULT_PER_CLASS if per_class is None else per_class
    config = dec.DecomposeConfig(mode=mode, cap=cap, positives=positives, pool=pool, seed=seed,
                                 refit_sequences=refit_sequences, per_class=per_class)  # fmt: skip
    wanted = classes.split(",") if classes else None
    if model.architecture.family == "rnn-seq2seq":
        from nnpm.science.rnn import translate

        data = translate.load_data_for(model, net.embedding)
        done = translate.decompose_model(model, net, emb_manifest, data, Path(out), config, languages=wanted,
                                         reporter=reporter)  # fmt: skip
    else:
        from nnpm.science.rnn import pipeline

        data = pipeline.load_data_for(model, net.embedding, data_dir)
        unknown = sorted(set(wanted or ()) - set(data.classes))
        if unknown:
            raise InvalidInputError(
                f"unknown classes {unknown} (the model's: {', '.join(data.classes)})", where="--classes"
            )
        done = pipeline.decompose_model(model, net, emb_manifest, data, Path(out), config, classes=wanted,
                                        reporter=reporter)  # fmt: skip
        if done["composed_accuracy"] is not None:
            done["model_accuracy"] = model.metrics.accuracy.value
    return {
        "model": model.id,
        "modules": [
            {
                "name": m.id,
                "retained": m.metrics.retained,
                "total": m.metrics.total,
                "dir": str(Path(out) / m.name.name),
            }
            for m in done["modules"]
        ],  # fmt: skip
        "seconds": done["seconds"],
        "mode": mode,
        **_cap_fields(done.get("cap_choice"), cap),
        **{k: v for k, v in done.items() if k in FIGURES and v is not None and v == v},  # NaN: not measured
    }


def _cap_fields(choice: dict | None, cap: float | None) -> dict[str, Any]:
    """The cap used and how it was set, for the summary (translators report none: fixed 0.05 default)."""
    if not choice:
        return {}
    if choice.get("rule") == "given":
        return {"cap": cap, "cap_rule": "given"}
    return {"cap": choice["cap"], "cap_rule": "chosen on validation" if choice["met"] else
            "best on validation, none within tolerance", "cap_validation": choice["validation_composed"]}  # fmt: skip
