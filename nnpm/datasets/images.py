"""Image classification datasets by name, read from their standard on-disk formats.

- mnist, fashion-mnist: any folder of IDX files (gzipped or not), as distributed;
  Fashion-MNIST defaults to Debian's `dataset-fashion-mnist` path.
- cifar10: the binary version (data_batch_1..5.bin, test_batch.bin).
- svhn: the cropped-digits .mat files (train_32x32.mat, test_32x32.mat), parsed here as
  MATLAB v5 without scipy.
- digits: bundled with nnpm.
- imagefolder, npz, csv, hf: users' own data (nnpm/datasets/image_files.py, image_arrays.py,
  image_hf.py): a folder of class folders of PNG/JPEG files, NumPy .npz arrays, MNIST-style CSV,
  a Hugging Face data set saved to disk or as Parquet. Their classes come from the data, a test or
  validation split they give is kept, and a missing one is carved (nnpm/datasets/image_splits.py).

Inputs come back as float32 [N, C, H, W] in [0, 1]. The validation split is a seeded,
stratified share of the official training split; the official test split stays untouched.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import torch

from nnpm.datasets import digits
from nnpm.datasets.splits import LabelledData, Split, stratified_split
from nnpm.errors import DataError

NATIVE = ("digits", "mnist", "fashion-mnist", "cifar10", "svhn")
#: Users' own data, in common formats; --data-dir names the folder holding it.
OWN_FORMATS = ("imagefolder", "npz", "csv", "hf")
NAMES = NATIVE + OWN_FORMATS
FORMATS = {
    "digits": "bundled",
    "mnist": "idx",
    "fashion-mnist": "idx",
    "cifar10": "cifar10-binary",
    "svhn": "svhn-mat",
}
DEFAULT_DIRS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DIGIT_CLASSES = tuple(str(d) for d in range(10))


def load_image_dataset(
    name: str,
    data_dir: str | Path | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    max_train: int | None = None,
    image_size: int | None = None,
) -> LabelledData:
    """Load `name` from `data_dir` (or its default), with a validation split carved from training data.

    max_train keeps a stratified, seeded subset of the training split (for quick runs). image_size
    (image files only: imagefolder, hf) resizes every image to image_size x image_size; without it,
    images of different sizes are an error.
    """
    if name not in NAMES:
        raise DataError(f"unknown dataset {name!r} (known: {', '.join(NAMES)})", where="--dataset")
    if not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if image_size is not None and name not in ("imagefolder", "hf"):
        raise DataError(f"image_size applies to image files (imagefolder, hf), not to {name}", where="--image-size",
                        hint="drop it; the model's --resize resizes any input")  # fmt: skip
    if image_size is not None and image_size < 1:
        raise DataError(f"image_size must be at least 1, got {image_size}", where="--image-size")
    options = {"seed": seed, "val_fraction": val_fraction, "max_train": max_train, "image_size": image_size}
    if name == "digits":
        options = {"seed": seed}  # its fixed 60/20/20 split takes no other option
    data = _load(name, data_dir, seed, val_fraction, max_train, image_size)
    return replace(data, options={k: v for k, v in options.items() if v is not None})


def _load(name, data_dir, seed, val_fraction, max_train, image_size) -> LabelledData:
    if name == "digits":
        return digits.load(seed)
    root = _data_dir(name, data_dir)
    if name in OWN_FORMATS:
        return _load_own(name, root, seed, val_fraction, max_train, image_size)
    if name in ("mnist", "fashion-mnist"):
        (xtr, ytr), (xte, yte) = _load_idx_pair(root, "train"), _load_idx_pair(root, "t10k")
        classes = FASHION_CLASSES if name == "fashion-mnist" else DIGIT_CLASSES
    elif name == "cifar10":
        (xtr, ytr), (xte, yte), classes = _load_cifar10(root)
    else:
        (xtr, ytr), (xte, yte) = _load_svhn(root, "train"), _load_svhn(root, "test")
        classes = DIGIT_CLASSES
    if max_train is not None and max_train < len(ytr):
        _, keep = stratified_split(ytr, max_train / len(ytr), seed + 7)
        xtr, ytr = xtr[keep], ytr[keep]
    train_i, val_i = stratified_split(ytr, val_fraction, seed)
    note = (
        f"official test split ({len(yte)}); validation = stratified {val_fraction:.0%} of the official "
        f"training split ({len(val_i)} of {len(ytr)}), split seed {seed}"
    )
    if max_train is not None:
        note += f"; training split subsampled to {len(ytr)} (stratified, seed {seed + 7})"
    return LabelledData(
        name,
        tuple(classes),
        Split(xtr[train_i], ytr[train_i]),
        Split(xtr[val_i], ytr[val_i]),
        Split(xte, yte),
        note,
        format=FORMATS[name],
    )


def _load_own(name, root: Path, seed, val_fraction, max_train, image_size) -> LabelledData:
    from nnpm.datasets.image_splits import assemble

    if name == "imagefolder":
        from nnpm.datasets.image_files import read_imagefolder

        (splits, classes, where), fmt = read_imagefolder(root, image_size), "imagefolder"
    elif name == "npz":
        from nnpm.datasets.image_arrays import read_npz

        (splits, classes, where), fmt = read_npz(root), "npz"
    elif name == "csv":
        from nnpm.datasets.image_arrays import read_csv

        (splits, classes, where), fmt = read_csv(root), "csv"
    else:
        from nnpm.datasets.image_hf import read_hf

        splits, classes, where, fmt = read_hf(root, image_size)
    return assemble(
        name, fmt, splits, classes, where, seed=seed, val_fraction=val_fraction, max_train=max_train
    )


def _data_dir(name: str, data_dir: str | Path | None) -> Path:
    if data_dir is None:
        if name not in DEFAULT_DIRS:
            raise DataError(
                f"dataset {name!r} needs --data-dir",
                where="--data-dir",
                hint="point --data-dir at the folder holding its standard files (docs/datasets.md lists each layout)",
            )
        data_dir = DEFAULT_DIRS[name]
    root = Path(data_dir)
    if not root.is_dir():
        hint = "install it with `apt-get install dataset-fashion-mnist`" if name == "fashion-mnist" else None
        if name in OWN_FORMATS:
            hint = f"point --data-dir at the folder holding the data (docs/datasets.md, {name})"
        raise DataError(f"data directory {str(root)!r} does not exist", where="--data-dir", hint=hint)
    return root


# --- IDX (MNIST, Fashion-MNIST) ------------------------------------------------------------------


def _find(root: Path, stem: str, what: str) -> Path:
    hits = sorted(p for p in root.rglob(f"{stem}*") if p.is_file())
    if not hits:
        raise DataError(
            f"no {what} file named {stem}* under {root}",
            where="--data-dir",
            hint="the folder must hold the IDX files (train-images-idx3-ubyte[.gz] and friends)",
        )
    return hits[0]


def _read_maybe_gz(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file (uint8 payload) as a tensor of its stated shape."""
    raw = _read_maybe_gz(path)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DataError("not an IDX file of unsigned bytes", where=str(path))
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = raw[4 + 4 * ndim :]
    count = 1
    for d in dims:
        count *= d
    if len(body) != count:
        raise DataError(f"IDX payload holds {len(body)} bytes, the header promises {count}", where=str(path))
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)


def _load_idx_pair(root: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(_find(root, f"{prefix}-images", "images"))
    labels = read_idx(_find(root, f"{prefix}-labels", "labels")).long()
    if images.dim() != 3 or len(images) != len(labels):
        raise DataError(f"{prefix} images and labels do not match", where=str(root))
    return images.float().div_(255).unsqueeze(1), labels


# --- CIFAR-10 binary -----------------------------------------------------------------------------


def _load_cifar10(root: Path):
    def batch(stem: str) -> tuple[torch.Tensor, torch.Tensor]:
        raw = _read_maybe_gz(_find(root, stem, "CIFAR-10 batch"))
        if len(raw) % 3073:
            raise DataError("not a CIFAR-10 binary batch (records are 3073 bytes)", where=stem)
        t = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, 3073)
        return t[:, 1:].reshape(-1, 3, 32, 32).float().div_(255), t[:, 0].long()

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    train = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    meta = sorted(root.rglob("batches.meta.txt"))
    classes = (
        tuple(line.strip() for line in meta[0].read_text().splitlines() if line.strip())
        if meta
        else CIFAR_CLASSES
    )
    return train, batch("test_batch"), classes[:10]


# --- SVHN .mat (MATLAB v5) -----------------------------------------------------------------------

_MAT_TYPES = {
    1: torch.int8,
    2: torch.uint8,
    3: torch.int16,
    5: torch.int32,
    7: torch.float32,
    9: torch.float64,
    12: torch.int64,
}
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def read_mat_v5(path: Path) -> dict[str, torch.Tensor]:
    """Numeric arrays of a MATLAB v5 .mat file (little-endian), in MATLAB's axis order."""
    raw = path.read_bytes()
    if len(raw) < 128 or raw[126:128] != b"IM":
        hint = "v7.3 (HDF5) files are not supported; re-save with -v7 or use the original SVHN files"
        raise DataError("not a little-endian MATLAB v5 .mat file", where=str(path), hint=hint)
    out: dict[str, torch.Tensor] = {}
    _parse_elements(raw, 128, out, str(path))
    return out


def _tag(buf: bytes, pos: int) -> tuple[int, int, int, int]:
    """(type, nbytes, data start, next element) of the data element at pos."""
    word = struct.unpack_from("<I", buf, pos)[0]
    if word >> 16:  # small data element: type and size packed into 4 bytes, data in the next 4
        return word & 0xFFFF, word >> 16, pos + 4, pos + 8
    mtype, nbytes = struct.unpack_from("<II", buf, pos)
    end = pos + 8 + nbytes
    return mtype, nbytes, pos + 8, end + (-end % 8 if mtype != _MI_COMPRESSED else 0)


def _parse_elements(buf: bytes, pos: int, out: dict[str, torch.Tensor], where: str) -> None:
    while pos + 8 <= len(buf):
        mtype, nbytes, start, nxt = _tag(buf, pos)
        if mtype == _MI_COMPRESSED:
            _parse_elements(zlib.decompress(buf[start : start + nbytes]), 0, out, where)
        elif mtype == _MI_MATRIX and nbytes:
            name, value = _matrix(buf[start : start + nbytes], where)
            if value is not None:
                out[name] = value
        pos = nxt


def _matrix(buf: bytes, where: str) -> tuple[str, torch.Tensor | None]:
    _, _, fstart, pos = _tag(buf, 0)
    mclass = struct.unpack_from("<I", buf, fstart)[0] & 0xFF
    dtype_d, nd, dstart, pos = _tag(buf, pos)
    dims = struct.unpack_from(f"<{nd // 4}i", buf, dstart)
    _, nn, nstart, pos = _tag(buf, pos)
    name = buf[nstart : nstart + nn].decode("ascii", "replace")
    if mclass not in range(6, 16):  # not a numeric array (cell, struct, char, sparse)
        return name, None
    rtype, rn, rstart, _ = _tag(buf, pos)
    if rtype not in _MAT_TYPES:
        raise DataError(f"unsupported MATLAB data type {rtype} in {name!r}", where=where)
    flat = torch.frombuffer(bytearray(buf[rstart : rstart + rn]), dtype=_MAT_TYPES[rtype])
    return name, flat.reshape(tuple(reversed(dims))).permute(*reversed(range(len(dims))))


def _load_svhn(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    arrays = read_mat_v5(_find(root, f"{split}_32x32", f"SVHN {split}_32x32.mat"))
    if "X" not in arrays or "y" not in arrays:
        raise DataError(f"SVHN {split} file lacks the X and y arrays", where=str(root))
    x = arrays["X"].permute(3, 2, 0, 1).float().div_(255).contiguous()  # [32, 32, 3, N] -> [N, 3, 32, 32]
    y = arrays["y"].reshape(-1).long() % 10  # SVHN labels the digit 0 as 10
    return x, y
