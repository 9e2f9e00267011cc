"""Image files through Pillow: a folder of class subfolders (`imagefolder`), and the decoding rules
every image file follows (also the images of a Hugging Face data set, nnpm/datasets/image_hf.py).

Decoding: 8-bit pixels are divided by 255 and 16-bit ones by 65,535 (as the native loaders divide
IDX bytes by 255). Grayscale modes (1, L, LA, I;16, I) give one channel, every other mode is
converted to RGB by Pillow; an alpha channel is dropped, not composited. When any image of the data
set is colour, every grayscale image is repeated to three channels (Pillow's L -> RGB), so the
channels always agree. Images of different sizes are an error unless `image_size` is given: then
every image not already `image_size` x `image_size` is resized to it (bilinear, aspect not kept).
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import torch

from nnpm.datasets.image_splits import RawSplit
from nnpm.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CLASSES_FILE = "classes.txt"
#: Folder names of the splits a data set may give; the first of each tuple is nnpm's name.
SPLIT_FOLDERS = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
_GRAY = {"1", "L", "LA", "I;16", "I;16L", "I;16B", "I;16N", "I"}
INSTALL_HINT = "pip install 'nnpm[images]' (Pillow reads the image files)"


def pillow():
    """The PIL.Image module, or one DataError line saying how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError(
            "reading image files needs Pillow, which is not installed", hint=INSTALL_HINT
        ) from None
    return Image


def decode(source, where: str, image_size: int | None) -> torch.Tensor:
    """One image file (a path or bytes) as float32 [C, H, W] in [0, 1], C 1 (grayscale) or 3."""
    import numpy as np

    Image = pillow()
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
            img.load()
            if img.mode == "F":
                raise DataError("32-bit float images are not read", where=where,
                                hint="save the images as 8- or 16-bit PNG or as JPEG")  # fmt: skip
            if img.mode in _GRAY:
                img = img.convert("I") if img.mode.startswith("I") else img.convert("L")
            elif img.mode != "RGB":
                img = img.convert("RGB")
            if image_size is not None and img.size != (image_size, image_size):
                img = img.resize((image_size, image_size), Image.Resampling.BILINEAR)
            array = np.array(img)
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        raise DataError(f"not an image Pillow can read ({exc})", where=where,
                        hint="remove or replace the file (PNG and JPEG are read)") from None  # fmt: skip
    if array.dtype == np.int32:  # 16-bit grayscale, widened by Pillow
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise DataError("integer image values outside 0..65535", where=where)
        t = torch.from_numpy(array.astype(np.float32)).div_(65535)
    else:
        t = torch.from_numpy(np.ascontiguousarray(array)).float().div_(255)
    return t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def stack(images: list[torch.Tensor], wheres: list[str], colour: bool) -> torch.Tensor:
    """One tensor [N, C, H, W] of same-sized images, grayscale ones repeated to RGB when `colour`."""
    if not images:
        return torch.zeros(0, 3 if colour else 1, 1, 1)
    sizes = {}
    for img, where in zip(images, wheres, strict=True):
        sizes.setdefault(tuple(img.shape[1:]), where)
        if len(sizes) > 1:
            (a, wa), (b, wb) = list(sizes.items())[:2]
            raise DataError(f"images of different sizes: {a[1]}x{a[0]} ({wa}) and {b[1]}x{b[0]}",
                            where=wb, hint="pass --image-size N (image_size=N) to resize every image to NxN")  # fmt: skip
    if colour:
        images = [img.expand(3, -1, -1) if img.shape[0] == 1 else img for img in images]
    return torch.stack(images)


def read_classes_file(root: Path, *, folders: bool = False) -> tuple[str, ...] | None:
    """The lines of ROOT/classes.txt (one class per line, in label order), if there is one.

    Only for imagefolder (`folders`) may a line be `folder<TAB>class name`."""
    path = root / CLASSES_FILE
    if not path.exists():
        return None
    regular(path)
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not names:
        raise DataError("the classes file names no class", where=str(path), hint="one class name per line")
    if not folders and any("\t" in n for n in names):
        raise DataError("a tab in a class name", where=str(path),
                        hint="one class name per line (folder<TAB>name lines are for imagefolder only)")  # fmt: skip
    return names


def regular(path: Path) -> None:
    """Refuse anything but a regular file (a symlink counts as its target): a FIFO would hang a read."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise DataError(f"cannot read it ({exc.strerror})", where=str(path)) from None
    if not stat.S_ISREG(mode):
        raise DataError("not a regular file", where=str(path), hint="class folders hold image files only")


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _split_folders(root: Path) -> dict[str, Path]:
    """{split: folder} of a DIR/train, DIR/test (, DIR/val) layout; {} for DIR/<class>/."""
    found = {}
    for split, names in SPLIT_FOLDERS.items():
        hits = [root / n for n in names if (root / n).is_dir()]
        if len(hits) > 1:
            raise DataError(
                f"two folders for the {split} split: {', '.join(h.name for h in hits)}", where=str(root)
            )
        if hits:
            found[split] = hits[0]
    if found and "train" not in found:
        raise DataError(f"a {'/'.join(found)} folder but no train folder", where=str(root),
                        hint="the layout is DIR/train/<class>/ (and DIR/test/<class>/), or DIR/<class>/")  # fmt: skip
    if found:
        others = [p.name for p in _visible(root) if p.is_dir() and p not in found.values()]
        if others:
            raise DataError(f"folders beside train/ that are no split: {', '.join(others)}", where=str(root),
                            hint="with DIR/train/ the splits hold the class folders (val/ and test/ are optional)")  # fmt: skip
    return found


def _class_files(folder: Path, classes: Iterable[str]) -> list[tuple[str, int, Path]]:
    """(file name, class id, path) of every image under folder/<class>/."""
    rows = []
    for cls_id, cls in enumerate(classes):
        cdir = folder / cls
        if not cdir.is_dir():
            continue
        files = _visible(cdir)
        for path in files:
            if path.is_dir():
                raise DataError("a folder inside a class folder", where=str(path),
                                hint="class folders hold image files directly")  # fmt: skip
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"not a PNG or JPEG file ({path.suffix or 'no suffix'})", where=str(path),
                                hint="remove or move it: class folders hold .png, .jpg and .jpeg files only")  # fmt: skip
            regular(path)
            rows.append((path.name, cls_id, path))
        if not files:
            raise DataError(
                "an empty class folder", where=str(cdir), hint="add images of the class or remove the folder"
            )
    return sorted(rows, key=lambda r: (r[0], r[1]))


def read_imagefolder(root: Path, image_size: int | None) -> tuple[dict[str, RawSplit], tuple[str, ...], str]:
    """DIR/<class>/*.png|jpg, or DIR/train/<class>/... with DIR/test/ and DIR/val/ optional.

    Classes are the training split's folder names, sorted, or in the order of DIR/classes.txt, whose
    lines may also rename them (`folder<TAB>class name`: a name a folder cannot have, as T-shirt/top).
    Images are read in order of file name (across classes, ties by class), so files named by their
    index in the original data keep its order."""
    pillow()
    folders = _split_folders(root) or {"train": root}
    train_dir = folders["train"]
    if any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in _visible(train_dir)):
        raise DataError("images directly in the data folder", where=str(train_dir),
                        hint="put each class's images in a folder named after the class")  # fmt: skip
    found = [p.name for p in _visible(train_dir) if p.is_dir()]
    lines = read_classes_file(root, folders=True)
    declared = tuple(line.split("\t", 1)[0].strip() for line in lines) if lines else None
    declared_where = str(root / CLASSES_FILE) if declared else str(train_dir)
    if declared:
        unknown = [c for c in found if c not in declared]
        if unknown:
            raise DataError(f"class folders not named in {CLASSES_FILE}: {', '.join(unknown[:5])}",
                            where=str(train_dir), hint=f"add them to {root / CLASSES_FILE}, or remove them")  # fmt: skip
        missing = [c for c in declared if c not in found]
        if missing:
            raise DataError(f"missing class folders: {', '.join(missing[:5])}", where=str(train_dir),
                            hint=f"every class named in {CLASSES_FILE} needs a folder of training images")  # fmt: skip
    classes = declared or tuple(sorted(found))
    if not classes:
        raise DataError("no class folders", where=str(train_dir),
                        hint="the layout is DIR/<class>/*.png (docs/datasets.md, imagefolder)")  # fmt: skip
    rows = {}
    for split, folder in folders.items():
        rows[split] = _class_files(folder, classes)
        if split != "train":
            extra = [p.name for p in _visible(folder) if p.is_dir() and p.name not in classes]
            if extra:
                raise DataError(f"{split} classes unseen in the training split: {', '.join(extra[:5])}",
                                where=str(folder), hint="every class of the test and validation splits needs "
                                "a training folder")  # fmt: skip
    images = {s: [decode(p, str(p), image_size) for _, _, p in r] for s, r in rows.items()}
    colour = any(img.shape[0] == 3 for imgs in images.values() for img in imgs)
    splits = {}
    for split, r in rows.items():
        wheres = [str(p) for _, _, p in r]
        x = stack(images[split], wheres, colour)
        splits[split] = RawSplit(x, [c for _, c, _ in r], str(folders[split]))
    _same_size(splits, rows)
    names = tuple(line.split("\t", 1)[-1].strip() for line in lines) if lines else classes
    return splits, names, declared_where


def _same_size(splits: dict[str, RawSplit], rows) -> None:
    train = splits["train"]
    for split, raw in splits.items():
        if len(raw.x) and len(train.x) and raw.x.shape[2:] != train.x.shape[2:]:
            h, w = raw.x.shape[2:]
            th, tw = train.x.shape[2:]
            raise DataError(f"images of different sizes: {w}x{h} here, {tw}x{th} in the training split",
                            where=str(rows[split][0][2]), hint="pass --image-size N to resize every image to NxN")  # fmt: skip
