"""Encoder-decoder translation: training, BLEU, one module per target language, routing, add-a-language.

A language module keeps the encoder, the embedding (a dependency) and the output layer, and prunes the
decoder's recurrent units for its language: positives are the decoder's |h| at every target step of
that language's training pairs, negatives those of the other languages (spread evenly). Its network
returns log-probabilities over the vocabulary (output "log-probs") and serves exactly the languages
in manifest.source.classes; `route` sends each request to the module serving its language, whichever
model it came from, provided all share one embedding package.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnpm.composition.evaluate_text import bleu_scores
from nnpm.datasets.identity import identify
from nnpm.datasets.text import IGNORE, TextData, TextSplit
from nnpm.nn.rnn.model import Seq2SeqNet
from nnpm.package.manifest import Accuracy, Architecture, InputSpec, Manifest, Source
from nnpm.package.naming import PackageName
from nnpm.progress import NULL, Progress
from nnpm.science.rnn import packaging as pk
from nnpm.science.rnn.decompose import (
    TRANSLATE_DEFAULT_CAP,
    DecomposeConfig,
    check_examples,
    choose_kept,
    recorded,
    sample_concern,
    slice_stack,
)
from nnpm.science.rnn.select import TAG_POOL
from nnpm.science.rnn.train import TrainConfig, TrainResult, fit_best_on_validation, new_embedding


def decoder_inputs(
    data: TextData, split: TextSplit, index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(source, decoder input = language token + target shifted right, target) for the chosen pairs."""
    src, y = split.x[index], split.y[index]
    width = int((y != IGNORE).sum(1).max())
    y = y[:, :width]
    lang_ids = torch.tensor(
        [data.vocab.id(data.meta["language_tokens"][g]) for g in split.group[index].tolist()]
    )
    tgt_in = torch.cat([lang_ids.unsqueeze(1), y[:, :-1].clamp_min(0)], 1)
    return src, tgt_in, y


def new_net(data: TextData, embedding, config: TrainConfig) -> Seq2SeqNet:
    torch.manual_seed(config.seed + 1)
    sizes = [config.hidden] * config.layers
    return Seq2SeqNet(
        embedding, config.cell, sizes, sizes, len(data.vocab), data.classes, data.meta["language_tokens"]
    )


def fit(
    net: Seq2SeqNet, data: TextData, config: TrainConfig, *, freeze_embedding: bool, reporter: Progress = NULL
) -> TrainResult:
    """Teacher-forced cross-entropy; keeps the epoch with the best validation token accuracy."""

    def step(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        src, tgt_in, y = decoder_inputs(data, data.train, idx)
        return net(src, tgt_in), y

    return fit_best_on_validation(
        net, data, config, step, lambda: token_accuracy(net, data, data.val),
        freeze_embedding=freeze_embedding, reporter=reporter,
    )  # fmt: skip


@torch.no_grad()
def token_accuracy(net: Seq2SeqNet, data: TextData, split: TextSplit) -> float:
    net.eval()
    src, tgt_in, y = decoder_inputs(data, split, torch.arange(len(split)))
    pred = net(src, tgt_in).argmax(-1)
    valid = y != IGNORE
    return float((pred[valid] == y[valid]).float().mean())


# --- decomposition -------------------------------------------------------------------------------


@torch.no_grad()
def decoder_activations(net: Seq2SeqNet, data: TextData, index: torch.Tensor):
    """Decoder |h| per layer at every target step of the chosen training pairs, and each step's language."""
    src, tgt_in, y = decoder_inputs(data, data.train, index)
    outputs, _ = net.decoder(net.embedding(tgt_in), net.encode(src))
    valid = y != IGNORE
    lang = data.train.group[index].unsqueeze(1).expand_as(y)
    return [h[valid].abs() for h in outputs], lang[valid]


def prune_decoder(net: Seq2SeqNet, keep: list[torch.Tensor], language: str) -> Seq2SeqNet:
    """A language module: full encoder, decoder reduced to `keep`, head columns sliced, log-prob output."""
    token = net.language_tokens[net.languages.index(language)]
    retained = {f"decoder.{i}": k.tolist() for i, k in enumerate(keep)}
    small = Seq2SeqNet(net.embedding, net.encoder.cell, net.encoder.sizes, [len(k) for k in keep],
                       net.head.out_features, [language], [token], retained=retained, output="log-probs")  # fmt: skip
    state = {k: v for k, v in net.state_dict().items() if k.startswith("encoder.")}
    state.update({f"decoder.layers.{k}": v for k, v in slice_stack(net.decoder, keep).items()})
    state["head.weight"] = net.head.weight.detach()[:, keep[-1]].clone()
    state["head.bias"] = net.head.bias.detach().clone()
    small.load_state_dict(state)
    return small.eval()


def decompose(
    net: Seq2SeqNet, data: TextData, config: DecomposeConfig, languages=None, reporter: Progress = NULL
):
    """{language: (module network, kept units per decoder layer)} and the time it took."""
    t0 = time.perf_counter()
    net.eval()
    gen = torch.Generator().manual_seed(config.seed)
    pool = torch.randperm(len(data.train), generator=gen)[: config.pool or TAG_POOL]
    cap = TRANSLATE_DEFAULT_CAP if config.cap is None else config.cap  # BLEU: no validation choice yet
    wanted = languages or list(net.languages)
    check_examples(data, [data.classes.index(lang) for lang in wanted if lang in data.classes])
    acts, labels = decoder_activations(net, data, pool)
    reporter.start(len(wanted), "decompose", unit="module")
    out = {}
    for lang in wanted:
        c = data.classes.index(lang)
        pos, neg = sample_concern(labels, c, config.positives, gen)
        keep = choose_kept(acts, pos, neg, cap, config.mad)
        module = prune_decoder(net, keep, lang)
        if config.mode == "refit":
            refit_head(module, data, c)
        out[lang] = (module, keep)
        reporter.advance(1)
    reporter.done()
    return out, time.perf_counter() - t0


def refit_head(module: Seq2SeqNet, data: TextData, language_index: int, steps: int = 50) -> None:
    """Refit the module's output layer on its language's training pairs (teacher-forced decoder states
    of the pruned network; full-batch L-BFGS on cross-entropy), so it adapts to the units removed."""
    index = torch.nonzero(data.train.group == language_index).flatten()
    with torch.no_grad():
        src, tgt_in, y = decoder_inputs(data, data.train, index)
        outputs, _ = module.decoder(module.embedding(tgt_in), module.encode(src))
        valid = y != IGNORE
        feats, target = outputs[-1][valid], y[valid]
    head = module.head.requires_grad_(True)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(head(feats), target) + 1e-5 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    head.requires_grad_(False)


# --- packages ------------------------------------------------------------------------------------


def architecture(net: Seq2SeqNet, data: TextData, vocabulary: str, retained=None) -> Architecture:
    return Architecture(
        family="rnn-seq2seq",
        input=InputSpec(shape=(data.train.x.shape[1],), dtype="int64"),
        params={
            "cell": net.encoder.cell,
            "embedding_dim": int(net.embedding.weight.shape[1]),
            "encoder_sizes": list(net.encoder.sizes),
            "decoder_sizes": list(net.decoder.sizes),
            "num_outputs": int(net.head.out_features),
            "languages": list(net.languages),
            "language_tokens": list(net.language_tokens),
            "output": net.output,
            "max_len": data.max_len,
        },  # fmt: skip
        retained=retained or {},
        vocabulary=vocabulary,
    )


def _bleu_metric(value: float, data: TextData) -> Accuracy:
    return Accuracy(round(value, 6), "corpus BLEU-4 (characters)", data.name, "test")


def train_model(data: TextData, config: TrainConfig, out: Path, namespace: str, *, embedding=None,
                data_provenance=None, version: str = pk.DEFAULT_VERSION, reporter: Progress = NULL) -> dict[str, Any]:  # fmt: skip
    """Train a translator; write `<out>/embedding` (unless an existing one is given, frozen) and `<out>/<cell>-translator`."""
    out = Path(out)
    emb_net = new_embedding(data, config.embedding_dim, config.seed) if embedding is None else embedding[1]
    net = new_net(data, emb_net, config)
    result = fit(net, data, config, freeze_embedding=embedding is not None, reporter=reporter)
    prov = {"data": {"dataset": data.name, "max_len": data.max_len, **(data_provenance or {})}, "split": data.split_note,
            "train": asdict(config), "train_result": {"epoch_seconds": [round(s, 2) for s in result.epoch_seconds],
            "val_token_accuracy": [round(v, 4) for v in result.val_scores], "best_epoch": result.best_epoch}}  # fmt: skip
    if embedding is None:
        emb_manifest = pk.embedding_manifest(f"{namespace}/embedding", vocab_size=len(data.vocab), dim=config.embedding_dim,
                                             max_len=data.train.x.shape[1], dataset=data.name, version=version,
                                             provenance={"data": prov["data"], "split": data.split_note},
                                             tokenizer=data.meta.get("tokenizer"))  # fmt: skip
        emb_manifest = pk.write_embedding(out / "embedding", emb_manifest, emb_net)
    else:
        emb_manifest = embedding[0]
    scores = bleu_scores([net], data)
    name = f"{namespace}/{config.cell}-translator"
    manifest = Manifest(
        name=PackageName.parse(name), version=pk.Version(version), kind="model",
        description=f"{config.layers}-layer {config.cell.upper()} encoder-decoder: digits -> words in {', '.join(data.classes)}",
        source=Source(dataset=data.name, method="train", all_classes=data.classes, data=identify(data)),
        architecture=architecture(net, data, str(emb_manifest.name)),
        metrics=pk.units_metrics(net.decoder.sizes, net.decoder.sizes, _bleu_metric(scores["bleu4"], data), None,
                                 {"bleu1": round(scores["bleu1"], 6), "exact_match": round(scores["exact_match"], 6),
                                  "units_counted": "decoder"}),  # fmt: skip
        dependencies=(pk.pin(emb_manifest),), provenance=prov,
    )  # fmt: skip
    model_dir = out / name.split("/")[1]
    manifest = pk.write_network(model_dir, manifest, net)
    return {
        "embedding": emb_manifest,
        "model": manifest,
        "net": net,
        "bleu": scores,
        "train": result,
        "model_dir": model_dir,
    }


def decompose_model(model: Manifest, net: Seq2SeqNet, emb_manifest: Manifest, data: TextData, out: Path,
                    config: DecomposeConfig, *, languages=None, reporter: Progress = NULL) -> dict[str, Any]:  # fmt: skip
    """One module package `<namespace>/<language>-module` per target language."""
    mods, seconds = decompose(net, data, config, languages, reporter)
    composed = bleu_scores([m for m, _ in mods.values()], data) if set(mods) == set(data.classes) else None
    written, identity = [], identify(data)
    for lang, (module, keep) in mods.items():
        own = data.test.subset(torch.nonzero(data.test.group == data.classes.index(lang)).flatten())
        scores = bleu_scores([module], data, own)
        extra = {
            "bleu1": round(scores["bleu1"], 6),
            "decomposition_seconds": round(seconds, 3),
            "units_counted": "decoder",
        }
        if composed:
            extra.update(
                composed_bleu4=round(composed["bleu4"], 6), composed_bleu1=round(composed["bleu1"], 6)
            )
        manifest = Manifest(
            name=PackageName.parse(f"{model.name.namespace}/{pk.slug(lang)}-module"), version=model.version, kind="module",
            description=f"{lang} module of {model.id}: translates digits into {lang} words",
            source=Source(model=str(model.name), version=str(model.version), sha256=model.digest(), dataset=data.name,
                          method=pk.METHOD, classes=(lang,), all_classes=data.classes, data=identity),
            architecture=architecture(module, data, str(emb_manifest.name), {f"decoder.{i}": k.tolist() for i, k in enumerate(keep)}),
            metrics=pk.units_metrics(module.decoder.sizes, net.decoder.sizes, _bleu_metric(scores["bleu4"], data),
                                     model.metrics.accuracy, extra),
            dependencies=(pk.pin(emb_manifest), pk.pin(model)),
            provenance={"decompose": {**recorded(config), "cap": TRANSLATE_DEFAULT_CAP if config.cap is None else config.cap}, "data": model.provenance.get("data", {}), "split": data.split_note},
        )  # fmt: skip
        written.append(pk.write_network(Path(out) / f"{pk.slug(lang)}-module", manifest, module))
    return {"modules": written, "seconds": seconds, "composed_bleu4": composed["bleu4"] if composed else float("nan"),
            "model_bleu4": model.metrics.accuracy.value, "nets": {k: v[0] for k, v in mods.items()}}  # fmt: skip


def load_data_for(model: Manifest, emb_net) -> TextData:
    """The translator's parallel data, split as at training time, with its embedding's vocabulary."""
    from nnpm.datasets.text_loaders import load_recorded
    from nnpm.datasets.vocab import Vocab
    from nnpm.science.rnn.pipeline import check_tokenizer

    data = load_recorded(model.provenance.get("data", {}), Vocab(tuple(emb_net.tokens)))
    check_tokenizer(emb_net, data)
    return data
