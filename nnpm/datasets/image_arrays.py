"""Images stored as arrays: NumPy `.npz` files (`npz`) and CSV with a label and pixel columns (`csv`).

Pixel values: uint8 and other integer arrays are 8-bit (0..255, divided by 255), uint16 is 16-bit
(divided by 65,535), floats must already lie in [0, 1] and are kept. Anything else is an error.
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from pathlib import Path

import torch

from nnpm.datasets.image_files import CLASSES_FILE, read_classes_file, regular
from nnpm.datasets.image_splits import RawSplit
from nnpm.errors import DataError

#: File-name endings of each split, in the order they are tried; the first is nnpm's own name.
SPLIT_ENDINGS = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
_INT = re.compile(r"[+-]?\d+")


def split_files(root: Path, suffix: str, hint: str) -> dict[str, Path] | Path:
    """{split: file} for files named *train<suffix>, *test<suffix>, *val<suffix>; or the one file
    of that suffix in `root` (all the data in one file)."""
    files = sorted(p for p in root.iterdir() if p.suffix.lower() == suffix and not p.name.startswith("."))
    found: dict[str, Path] = {}
    for split, endings in SPLIT_ENDINGS.items():
        hits = [p for p in files if p.stem.lower().endswith(endings)]
        if len(hits) > 1:
            raise DataError(f"several {split} files: {', '.join(p.name for p in hits)}", where=str(root),
                            hint=f"keep one file per split ({hint})")  # fmt: skip
        if hits:
            found[split] = hits[0]
    if found:
        if "train" not in found:
            raise DataError(f"a {'/'.join(found)} file but no *train{suffix}", where=str(root), hint=hint)
        others = [p.name for p in files if p not in found.values()]
        if others:
            raise DataError(f"{suffix} files that name no split: {', '.join(others[:5])}", where=str(root),
                            hint=hint)  # fmt: skip
        for path in found.values():
            regular(path)
        return found
    if len(files) == 1:
        regular(files[0])
        return files[0]
    what = f"no {suffix} file" if not files else f"{len(files)} {suffix} files, none named for a split"
    raise DataError(what, where=str(root), hint=hint)


def pixels(array, where: str) -> torch.Tensor:
    """A NumPy array of pixel values as float32 in [0, 1] (the rule in this module's docstring)."""
    import numpy as np

    if array.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(array)).float().div_(255)
    if array.dtype == np.uint16:
        return torch.from_numpy(array.astype(np.float32)).div_(65535)
    if np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 255):
            raise DataError(f"integer pixels outside 0..255 (min {array.min()}, max {array.max()})", where=where,
                            hint="integer pixels are 8-bit (uint16 is read as 16-bit); store floats in [0, 1] otherwise")  # fmt: skip
        return torch.from_numpy(array.astype(np.uint8)).float().div_(255)
    if np.issubdtype(array.dtype, np.floating):
        if array.size and not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
            raise DataError(f"float pixels outside [0, 1] (min {array.min():g}, max {array.max():g})",
                            where=where, hint="divide by 255, or store uint8 pixels")  # fmt: skip
        return torch.from_numpy(array.astype(np.float32))
    raise DataError(f"pixels of type {array.dtype} are not read", where=where,
                    hint="store uint8 (0..255), uint16 or floats in [0, 1]")  # fmt: skip


def labels_of(array, where: str) -> list:
    """Integer or string labels as Python values; anything else is an error."""
    import numpy as np

    array = np.asarray(array)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise DataError(f"labels have shape {array.shape}, expected one per image", where=where)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64).tolist()
    if array.dtype.kind in "US":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in array.tolist()]
    raise DataError(f"labels of type {array.dtype} are not read", where=where,
                    hint="store the labels as integers 0..K-1 or as strings (class names)")  # fmt: skip


# --- npz -----------------------------------------------------------------------------------------

NPZ_HINT = (
    "the layout is DIR/train.npz (+ DIR/test.npz) with arrays x and y, or one .npz (docs/datasets.md, npz)"
)


def _channels_first(x, where: str):
    """[N, H, W] -> [N, 1, H, W]; [N, H, W, C] or [N, C, H, W] (C 1 or 3) -> [N, C, H, W]."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        last, first = x.shape[3] in (1, 3), x.shape[1] in (1, 3)
        if last and not first:
            return x.transpose(0, 3, 1, 2)
        if first and not last:
            return x
        if first and last:
            raise DataError(f"x has shape {x.shape}: channels first or last is ambiguous", where=where,
                            hint="store [N, H, W, C] images at least 4 pixels wide")  # fmt: skip
    raise DataError(f"x has shape {x.shape}", where=where,
                    hint="store x as [N, H, W], [N, H, W, C] or [N, C, H, W] with C 1 or 3")  # fmt: skip


def _npz(path: Path) -> dict:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError("an array holds Python objects", where=str(path),
                            hint="nnpm never unpickles: store numbers, and class names as a string array") from None  # fmt: skip
        raise DataError(f"not a readable .npz file ({exc})", where=str(path), hint=NPZ_HINT) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"not a readable .npz file ({exc})", where=str(path), hint=NPZ_HINT) from None


def _xy(arrays: dict, xk: str, yk: str, where: str) -> RawSplit:
    for key in (xk, yk):
        if key not in arrays:
            raise DataError(f"no array {key!r} (arrays: {', '.join(sorted(arrays)) or 'none'})", where=where,
                            hint=NPZ_HINT)  # fmt: skip
    x = pixels(_channels_first(arrays[xk], where), where)
    return RawSplit(x.contiguous(), labels_of(arrays[yk], where), where)


def _classes_array(arrays: dict, where: str) -> tuple[str, ...] | None:
    if "classes" not in arrays:
        return None
    c = arrays["classes"]
    if c.ndim != 1 or c.dtype.kind not in "US":
        raise DataError(f"classes must be a 1-D string array, got {c.dtype} {c.shape}", where=where)
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in c.tolist())


def read_npz(root: Path) -> tuple[dict[str, RawSplit], tuple[str, ...] | None, str]:
    """DIR/train.npz (+ test.npz, val.npz), each with x and y (and optionally classes); or one .npz with
    x and y, or with x_train, y_train (+ x_test, y_test, x_val, y_val), as Keras' mnist.npz."""
    files = split_files(root, ".npz", NPZ_HINT)
    splits: dict[str, RawSplit] = {}
    declared: dict[str, tuple[str, ...]] = {}
    if isinstance(files, Path):
        arrays, where = _npz(files), str(files)
        if "x_train" in arrays:
            for split in ("train", "val", "test"):
                if f"x_{split}" in arrays or f"y_{split}" in arrays:
                    splits[split] = _xy(arrays, f"x_{split}", f"y_{split}", f"{where}:x_{split}")
        else:
            splits["train"] = _xy(arrays, "x", "y", where)
        if (c := _classes_array(arrays, where)) is not None:
            declared[where] = c
    else:
        for split, path in files.items():
            arrays = _npz(path)
            splits[split] = _xy(arrays, "x", "y", str(path))
            if (c := _classes_array(arrays, str(path))) is not None:
                declared[str(path)] = c
    if len(set(declared.values())) > 1:
        raise DataError(
            "the files' classes arrays differ", where=str(root), hint="give every file the same classes"
        )
    if declared:
        where, names = next(iter(declared.items()))
        return splits, names, f"{where} (classes)"
    names = read_classes_file(root)
    return splits, names, str(root / CLASSES_FILE)


# --- csv -----------------------------------------------------------------------------------------

CSV_HINT = ("the layout is DIR/mnist_train.csv (+ mnist_test.csv) or train.csv, a header row with a label "
            "column and pixel columns (docs/datasets.md, csv)")  # fmt: skip


def _square(n_pixels: int, where: str) -> tuple[int, int]:
    """(C, side) of a row of n_pixels: side^2 grayscale, or 3 * side^2 RGB (R, G, B planes)."""
    for channels in (1, 3):
        side = math.isqrt(n_pixels // channels)
        if n_pixels % channels == 0 and side * side * channels == n_pixels and side:
            return channels, side
    raise DataError(f"{n_pixels} pixel columns make no square image", where=where,
                    hint="CSV images are square: H*H grayscale columns, or 3*H*H (all R, then G, then B)")  # fmt: skip


def read_csv_file(path: Path) -> RawSplit:
    """One CSV file: a header naming a `label` column, or none (then the label is the first column)."""
    import numpy as np

    where = str(path)
    with path.open(newline="", encoding="utf-8") as fh:
        first = next(csv.reader(fh), None)
    if not first:
        raise DataError("an empty CSV file", where=where, hint=CSV_HINT)
    names = [c.strip().lower() for c in first]
    header = not all(_INT.fullmatch(c.strip()) for c in first)
    if header and "label" not in names:
        raise DataError(f"no label column (columns: {', '.join(first[:4])}, ...)", where=where, hint=CSV_HINT)
    label_col = names.index("label") if header else 0
    pixel_cols = [i for i in range(len(first)) if i != label_col]
    channels, side = _square(len(pixel_cols), where)
    options = dict(delimiter=",", skiprows=1 if header else 0, quotechar='"', ndmin=2, encoding="utf-8")
    try:
        labels = np.loadtxt(path, dtype=str, usecols=[label_col], **options).reshape(-1)
        try:
            values = np.loadtxt(path, dtype=np.int64, usecols=pixel_cols, **options)
        except ValueError:  # a cell that is not an integer: the pixels are floats in [0, 1]
            values = np.loadtxt(path, dtype=np.float64, usecols=pixel_cols, **options)
    except ValueError as exc:
        raise DataError(f"malformed CSV ({exc})", where=where, hint=CSV_HINT) from None
    if values.shape[0] == 0:
        return RawSplit(torch.zeros(0, channels, side, side), [], where)
    x = pixels(values.reshape(-1, channels, side, side), where)
    stripped = [v.strip() for v in labels.tolist()]
    as_ints = all(_INT.fullmatch(v) for v in stripped)
    return RawSplit(x, [int(v) for v in stripped] if as_ints else stripped, where)


def read_csv(root: Path) -> tuple[dict[str, RawSplit], tuple[str, ...] | None, str]:
    """DIR/*train.csv (+ *test.csv, *val.csv), or one .csv file holding all the data."""
    files = split_files(root, ".csv", CSV_HINT)
    parts = {"train": files} if isinstance(files, Path) else files
    splits = {split: read_csv_file(path) for split, path in parts.items()}
    return splits, read_classes_file(root), str(root / CLASSES_FILE)
