"""One data set in every image format nnpm reads, through the whole pipeline: the same figures.

    python benchmarks/formats_images.py --epochs 3 --max-train 12000 --width 0.125

Writes Fashion-MNIST (Debian's IDX files, /usr/share/datasets/fashion-mnist) out as a PNG folder
(train/ and test/ of class folders, files named by their index, classes.txt giving the order and
the names), as MNIST-style CSV (Kaggle's fashion-mnist_train.csv layout), as .npz (x, y, classes)
and as Hugging Face Parquet (Image and ClassLabel features), into --build; each is written once
and reused. Then loads each format (the official test split kept, validation carved from training,
the training split subsampled to --max-train) and runs `modularize` (standard and modular SimCNN,
one module per class, composition rule, packages) with one seed and recipe for every format.
The table: load time as a multiple of IDX's, the digest of the data as read (pixels, labels, class
names), standard and modular test accuracy and mean KRR. The same data must give the same row.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nnpm.datasets.images import FASHION_CLASSES, load_image_dataset, read_idx
from nnpm.science.cnn.mwt import modularize
from nnpm.science.cnn.train import TrainConfig

FORMATS = ("idx", "imagefolder", "csv", "npz", "hf")


def source_arrays(source: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (uint8 images [N, 28, 28], labels)} straight from the IDX files."""

    def pair(prefix: str):
        images = read_idx(next(source.glob(f"{prefix}-images*")))
        labels = read_idx(next(source.glob(f"{prefix}-labels*")))
        return images.numpy(), labels.numpy().astype(np.int64)

    return {"train": pair("train"), "test": pair("t10k")}


def folder_name(name: str) -> str:
    return name.replace("/", "-")


def write_png(root: Path, arrays) -> None:
    from PIL import Image

    for split, (x, y) in arrays.items():
        for i, (img, label) in enumerate(zip(x, y, strict=True)):
            folder = root / split / folder_name(FASHION_CLASSES[label])
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i:05d}.png")
    (root / "classes.txt").write_text("".join(f"{folder_name(c)}\t{c}\n" for c in FASHION_CLASSES))


def write_csv(root: Path, arrays) -> None:
    root.mkdir(parents=True, exist_ok=True)
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    for split, (x, y) in arrays.items():
        table = np.concatenate([y[:, None], x.reshape(len(x), -1).astype(np.int64)], axis=1)
        np.savetxt(
            root / f"fashion-mnist_{split}.csv", table, fmt="%d", delimiter=",", header=header, comments=""
        )
    (root / "classes.txt").write_text("".join(f"{c}\n" for c in FASHION_CLASSES))


def write_npz(root: Path, arrays) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for split, (x, y) in arrays.items():
        np.savez(root / f"{split}.npz", x=x, y=y, classes=np.array(FASHION_CLASSES))


def write_hf(root: Path, arrays) -> None:
    import datasets
    from PIL import Image

    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=list(FASHION_CLASSES))}
    )
    (root / "data").mkdir(parents=True, exist_ok=True)
    for split, (x, y) in arrays.items():
        ds = datasets.Dataset.from_dict(
            {"image": [Image.fromarray(i) for i in x], "label": y.tolist()}, features
        )
        ds.to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))


WRITERS = {"imagefolder": write_png, "csv": write_csv, "npz": write_npz, "hf": write_hf}


def digest(data) -> str:
    """sha256 of the data as read (nnpm.datasets.identity when present: what manifests record)."""
    try:
        from nnpm.datasets.identity import identify

        return identify(data).sha256
    except ImportError:
        h = hashlib.sha256(json.dumps(list(data.classes)).encode())
        for part in (data.train, data.val, data.test):
            h.update(part.x.float().contiguous().numpy().data)
            h.update(part.y.long().contiguous().numpy().data)
        return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--build", type=Path, default=Path("build/formats-images"))
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-train", type=int, default=12000)
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--method", default="mwt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--results", type=Path, default=None, help="Append one JSON line per format here.")
    args = ap.parse_args(argv)
    formats = args.formats.split(",")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    arrays = None
    for fmt in formats:
        folder = args.build / fmt
        if fmt != "idx" and not (folder / ".complete").exists():
            arrays = arrays or source_arrays(args.source)
            t0 = time.perf_counter()
            WRITERS[fmt](folder, arrays)
            (folder / ".complete").write_text("")
            print(f"wrote {fmt} to {folder} in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    cfg = TrainConfig(epochs=args.epochs, method=args.method, seed=args.seed)
    rows, base = [], None
    for fmt in formats:
        name, where = ("fashion-mnist", args.source) if fmt == "idx" else (fmt, args.build / fmt)
        t0 = time.perf_counter()
        data = load_image_dataset(
            name, where, seed=args.seed, val_fraction=args.val_fraction, max_train=args.max_train
        )
        load_s = time.perf_counter() - t0
        base = base or load_s
        out = args.build / "runs" / fmt
        if out.exists():
            import shutil

            shutil.rmtree(out)
        report = modularize(data, "simcnn", args.width, cfg, out, "formats")
        row = {
            "format": data.format, "dataset": name, "load_s": round(load_s, 2), "load_ratio": round(load_s / base, 1),
            "digest": digest(data)[:12], "classes": list(data.classes), "split": data.split_note,
            "standard_accuracy": report.standard_accuracy, "modular_accuracy": report.modular_accuracy,
            "mean_krr": report.mean_krr, "epochs": args.epochs, "width": args.width, "seed": args.seed,
            "method": args.method, "max_train": args.max_train,
        }  # fmt: skip
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        if args.results:
            with args.results.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    print(
        f"{'format':<14}{'load s':>8}{'x IDX':>7}  {'data sha256':<14}{'standard':>10}{'modular':>10}{'mean KRR':>10}"
    )
    for r in rows:
        print(f"{r['format']:<14}{r['load_s']:>8.2f}{r['load_ratio']:>7.1f}  {r['digest']:<14}"
              f"{100 * r['standard_accuracy']:>9.2f}%{100 * r['modular_accuracy']:>9.2f}%{100 * r['mean_krr']:>9.2f}%")  # fmt: skip
    same = (
        len({(r["digest"], r["standard_accuracy"], r["modular_accuracy"], r["mean_krr"]) for r in rows}) == 1
    )
    print(f"split: {rows[0]['split']}")
    print("every format gives the same data and the same figures" if same else "FIGURES DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
