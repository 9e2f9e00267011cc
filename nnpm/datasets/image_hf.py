"""Hugging Face `datasets` image data sets from local files only (`hf`): a folder written by
`Dataset.save_to_disk` or `DatasetDict.save_to_disk` (Arrow), or a folder of Parquet files.

`datasets` is an optional extra (`pip install 'nnpm[hf]'`), imported only here and only in offline
mode: nothing is ever downloaded. The image column is the one of feature type `Image` (its bytes are
decoded by Pillow with the rules of nnpm/datasets/image_files.py), the label column the one of
type `ClassLabel` (its names are the classes) or else the column named `label`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from nnpm.datasets.image_files import decode, pillow, regular, stack
from nnpm.datasets.image_splits import RawSplit
from nnpm.errors import DataError

HF_HINT = ("the folder must be one written by Dataset.save_to_disk / DatasetDict.save_to_disk, or hold "
           ".parquet files (docs/datasets.md, hf)")  # fmt: skip
#: Split names a data set may use, and the split nnpm reads each as.
SPLIT_NAMES = {"train": "train", "validation": "val", "valid": "val", "val": "val", "test": "test"}
_SPLIT_PART = re.compile(r"(?<![a-z])(train|validation|valid|val|test)(?![a-z])", re.IGNORECASE)


def hf_datasets():
    """The `datasets` module in offline mode, or one DataError line saying how to install it."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import datasets
    except ImportError:
        raise DataError("reading Hugging Face data sets needs the datasets package, which is not installed",
                        hint="pip install 'nnpm[hf]'") from None  # fmt: skip
    datasets.config.HF_HUB_OFFLINE = True  # datasets' own switch; huggingface_hub's is left alone
    datasets.config.HF_DATASETS_OFFLINE = True
    return datasets


def read_hf(
    root: Path, image_size: int | None
) -> tuple[dict[str, RawSplit], tuple[str, ...] | None, str, str]:
    """(splits, class names or None, where they were declared, format: hf-arrow or hf-parquet)."""
    pillow()
    datasets = hf_datasets()
    if (root / "dataset_dict.json").is_file() or (root / "state.json").is_file():
        tables, fmt = _from_disk(datasets, root), "hf-arrow"
    else:
        tables, fmt = _from_parquet(datasets, root), "hf-parquet"
    raws, declared = {}, {}
    images: dict[str, list] = {}
    labels: dict[str, list] = {}
    for split, (table, features, where) in tables.items():
        image_col, label_col = _columns(table, features, where)
        feature = features.get(label_col) if features is not None else None
        if isinstance(feature, datasets.ClassLabel):
            declared[where] = tuple(feature.names)
        labels[split] = _labels(table.column(label_col).to_pylist(), where)
        images[split] = [
            decode(_image_bytes(cell, root, f"{where} row {i}"), f"{where} row {i}", image_size)
            for i, cell in enumerate(table.column(image_col).to_pylist())
        ]
        raws[split] = where
    if len(set(declared.values())) > 1:
        raise DataError(
            "the splits' ClassLabel names differ", where=str(root), hint="give every split the same classes"
        )
    colour = any(img.shape[0] == 3 for imgs in images.values() for img in imgs)
    splits = {
        s: RawSplit(stack(images[s], [f"{w} row {i}" for i in range(len(images[s]))], colour), labels[s], w)
        for s, w in raws.items()
    }
    train_shape = splits["train"].x.shape[2:]
    for raw in splits.values():
        if len(raw.x) and raw.x.shape[2:] != train_shape:
            raise DataError(f"images of different sizes: {tuple(raw.x.shape[2:])} here, {tuple(train_shape)} in "
                            "the training split", where=raw.where, hint="pass --image-size N to resize every image")  # fmt: skip
    if declared:
        where, names = next(iter(declared.items()))
        return splits, names, f"{where} (ClassLabel)", fmt
    return splits, None, str(root), fmt


def _split_of(name: str, where: str) -> str:
    if name.lower() not in SPLIT_NAMES:
        raise DataError(f"a split named {name!r}", where=where,
                        hint="name the splits train, validation and test (train alone: nnpm carves the others)")  # fmt: skip
    return SPLIT_NAMES[name.lower()]


def _from_disk(datasets, root: Path) -> dict:
    try:
        loaded = datasets.load_from_disk(str(root))
    except (OSError, ValueError, FileNotFoundError) as exc:
        raise DataError(f"not a data set saved to disk ({exc})", where=str(root), hint=HF_HINT) from None
    parts = dict(loaded.items()) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    out = {}
    for name, ds in parts.items():
        where = str(root / name) if isinstance(loaded, datasets.DatasetDict) else str(root)
        out[_split_of(name, where)] = (ds.with_format("arrow")[:], ds.features, where)
    return _need_train(out, root)


def _from_parquet(datasets, root: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(p for p in root.rglob("*.parquet") if not any(part.startswith(".") for part in p.parts))
    if not files:
        raise DataError("no .parquet files and no data set saved to disk", where=str(root), hint=HF_HINT)
    by_split: dict[str, list[Path]] = {}
    for path in files:
        regular(path)
        rel = path.relative_to(root)
        hits = [m.group(1) for part in (*rel.parts[:-1], rel.stem) if (m := _SPLIT_PART.search(part))]
        if not hits and len(files) > 1:
            raise DataError("a .parquet file that names no split", where=str(path),
                            hint="name the files (or their folders) train*, validation*, test*")  # fmt: skip
        by_split.setdefault(_split_of(hits[0] if hits else "train", str(path)), []).append(path)
    out = {}
    for split, paths in by_split.items():
        try:
            table = pa.concat_tables([pq.read_table(p) for p in paths])
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(
                f"not a readable Parquet file ({exc})", where=str(paths[0]), hint=HF_HINT
            ) from None
        try:
            features = datasets.Features.from_arrow_schema(table.schema)
        except (TypeError, ValueError, KeyError):
            features = None
        out[split] = (table, features, str(paths[0]) if len(paths) == 1 else f"{paths[0].parent} ({split})")
    return _need_train(out, root)


def _need_train(out: dict, root: Path) -> dict:
    if "train" not in out:
        raise DataError(f"splits {', '.join(sorted(out))} but no train split", where=str(root), hint=HF_HINT)
    return out


def _columns(table, features, where: str) -> tuple[str, str]:
    """The image column (an Image feature, or a struct with bytes) and the label column."""
    import pyarrow as pa

    names = table.column_names
    images = [n for n in names if pa.types.is_struct(table.schema.field(n).type)
              and "bytes" in [f.name for f in table.schema.field(n).type]]  # fmt: skip
    if len(images) > 1:
        images = [n for n in images if n.lower() in ("image", "img")] or images
    if len(images) != 1:
        raise DataError(f"{'no' if not images else 'several'} image columns (columns: {', '.join(names)})",
                        where=where, hint="one column must be of feature type Image")  # fmt: skip
    class_label = []
    if features is not None:
        from datasets import ClassLabel

        class_label = [n for n in names if isinstance(features.get(n), ClassLabel)]
    labels = class_label if len(class_label) == 1 else [n for n in names if n.lower() in ("label", "labels")]
    if len(labels) != 1:
        raise DataError(f"no single label column (columns: {', '.join(names)})", where=where,
                        hint="give the labels one ClassLabel column, or name the label column `label`")  # fmt: skip
    return images[0], labels[0]


def _labels(values: list, where: str) -> list:
    if any(v is None for v in values):
        raise DataError(f"{sum(v is None for v in values)} images without a label", where=where,
                        hint="every image needs a label")  # fmt: skip
    return values


def _image_bytes(cell, root: Path, where: str):
    """The encoded image of one Image cell ({bytes, path}): its bytes, else its local file."""
    if not isinstance(cell, dict):
        raise DataError("an image cell that is empty", where=where, hint="every row needs an image")
    if cell.get("bytes"):
        return cell["bytes"]
    path = cell.get("path")
    if not path:
        raise DataError(
            "an image cell with neither bytes nor a path", where=where, hint="every row needs an image"
        )
    file = Path(path) if Path(path).is_absolute() else root / path
    if not file.is_file():
        raise DataError(f"an image cell pointing at a missing file {path!r}", where=where,
                        hint="save the data set with the images embedded (Dataset.save_to_disk embeds them)")  # fmt: skip
    regular(file)
    return file
