"""Benchmark: encoder-decoder language modules on num2words, and the add-a-language scenario.

    python benchmarks/rnn_translate.py [--cell gru] [--epochs 15] [--out results.jsonl]

Model A translates digits into fr and de and creates the embedding package (its vocabulary is fitted
on the training spellings in fr, de and it). Model B is trained on A's embedding package, frozen, for
fr and it. Each is decomposed into language modules (packages on disk, loaded back); then A's fr and de
modules and B's it module are composed into a translator for three languages that neither model
served alone. A model with an embedding of its own is refused. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _results import emit  # benchmarks/ is on sys.path when a script runs

from nnpm.datasets import num2words_data
from nnpm.datasets.vocab import Vocab
from nnpm.errors import CompositionError
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import packaging as pk
from nnpm.science.rnn import translate as tr
from nnpm.science.rnn.train import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="gru")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--cap", type=float, default=dec.TRANSLATE_DEFAULT_CAP)
    parser.add_argument("--mode", default="refit", choices=dec.MODES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    cfg = TrainConfig(cell=args.cell, layers=args.layers, hidden=args.hidden, embedding_dim=32, epochs=args.epochs,
                      batch_size=32, lr=3e-3, seed=args.seed)  # fmt: skip
    dcfg = dec.DecomposeConfig(mode=args.mode, cap=args.cap, seed=args.seed)
    report: dict = {"config": {**vars(args), "out": str(args.out)}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data_a = num2words_data.load(
            languages=("fr", "de"), vocab_languages=("fr", "de", "it"), seed=args.seed
        )
        a = tr.train_model(data_a, cfg, root / "a", "numbers")
        emb_manifest, _, _ = pk.load_directory(root / "a" / "embedding")
        _, emb_net, _ = pk.load_directory(root / "a" / "embedding")
        data_b = num2words_data.load(languages=("fr", "it"), vocab=Vocab(emb_net.tokens), seed=args.seed)
        b = tr.train_model(
            data_b, cfg, root / "b", "numbers-b", embedding=(a["embedding"], a["net"].embedding)
        )
        report["split"] = data_a.split_note
        report["model_a"] = {k: round(v, 4) for k, v in a["bleu"].items()} | {
            "epoch_seconds": round(sum(a["train"].epoch_seconds) / cfg.epochs, 2)
        }
        report["model_b"] = {k: round(v, 4) for k, v in b["bleu"].items()}
        da = tr.decompose_model(a["model"], a["net"], a["embedding"], data_a, root / "a", dcfg)
        db = tr.decompose_model(b["model"], b["net"], a["embedding"], data_b, root / "b", dcfg)
        report["decomposed_a"] = {"composed_bleu4": round(da["composed_bleu4"], 4), "seconds": round(da["seconds"], 2),
                                  "retained": {str(m.name): [m.metrics.retained, m.metrics.total] for m in da["modules"]}}  # fmt: skip
        report["decomposed_b"] = {
            "composed_bleu4": round(db["composed_bleu4"], 4),
            "seconds": round(db["seconds"], 2),
        }
        report["decomposed_a"]["composed"] = {
            k: round(v, 4) for k, v in tr.bleu_scores(list(da["nets"].values()), data_a).items()
        }
        # add a language: A's fr and de modules + B's it module, loaded back from their packages
        loaded = [pk.load_directory(root / "a" / "fr-module"), pk.load_directory(root / "a" / "de-module"),
                  pk.load_directory(root / "b" / "it-module", search=[root / "a"])]  # fmt: skip
        report["shared_embedding"] = pk.check_embeddings([m for m, _, _ in loaded])
        data_3 = num2words_data.load(
            languages=("fr", "de", "it"), vocab=Vocab(emb_net.tokens), seed=args.seed
        )
        report["add_a_language"] = {
            k: round(v, 4) for k, v in tr.bleu_scores([n for _, n, _ in loaded], data_3).items()
        }
        it_only = data_3.test.subset((data_3.test.group == 2).nonzero().flatten())
        report["add_a_language"]["it_only"] = {
            k: round(v, 4) for k, v in tr.bleu_scores([loaded[2][1]], data_3, it_only).items()
        }
        c = tr.train_model(
            data_a, TrainConfig(cell=args.cell, hidden=16, embedding_dim=32, epochs=1), root / "c", "other"
        )
        try:
            pk.check_embeddings([loaded[0][0], c["model"]])
            report["refusal"] = "NOT REFUSED"
        except CompositionError as exc:
            report["refusal"] = exc.one_line()
    emit(report, args.out)


if __name__ == "__main__":
    main()
