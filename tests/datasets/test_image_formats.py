"""Users' own image data (imagefolder, npz, csv, hf): real files written from the bundled digits read
back as exactly the tensors the native loaders give (JPEG approximately), classes from the data,
and one clear error for each way the data can be wrong."""

from __future__ import annotations

import dataclasses
import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nnpm.datasets import digits
from nnpm.datasets.images import load_image_dataset
from nnpm.errors import DataError

N_TRAIN = 1437  # the digits' first 1,437 images are "train", the other 360 "test"
SPLITS = ("train", "val", "test")


def assert_same(a, b) -> None:
    assert a.classes == b.classes
    for s in SPLITS:
        pa, pb = getattr(a, s), getattr(b, s)
        assert torch.equal(pa.y, pb.y), s
        assert pa.x.dtype == pb.x.dtype == torch.float32 and torch.equal(pa.x, pb.x), s


@pytest.fixture(scope="module")
def arrays():
    """The digits as 8-bit images [N, 8, 8] (what PNG, IDX and uint8 arrays hold) and labels."""
    x, y = digits.load_arrays()
    return torch.round(x[:, 0] * 255).to(torch.uint8).numpy(), y.numpy()


@pytest.fixture(scope="module")
def idx(arrays, tmp_path_factory) -> Path:
    """The same images as an MNIST-format folder: the native loader's reference."""
    root = tmp_path_factory.mktemp("idx")
    x, y = arrays
    for prefix, sl in (("train", slice(0, N_TRAIN)), ("t10k", slice(N_TRAIN, None))):
        xs, ys = x[sl], y[sl].astype(np.uint8)
        header = struct.pack(">BBBBIII", 0, 0, 8, 3, len(xs), 8, 8)
        (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + xs.tobytes()))
        (root / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(struct.pack(">BBBBI", 0, 0, 8, 1, len(ys)) + ys.tobytes())
        )
    return root


@pytest.fixture(scope="module")
def native(idx):
    return load_image_dataset("mnist", idx)


def write_folder(root: Path, x, y, names=None, suffix=".png", **save) -> Path:
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        folder = root / (names[label] if names else str(int(label)))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:05d}{suffix}", **save)
    return root


@pytest.fixture(scope="module")
def pngs(arrays, tmp_path_factory) -> Path:
    x, y = arrays
    root = tmp_path_factory.mktemp("png")
    write_folder(root / "train", x[:N_TRAIN], y[:N_TRAIN])
    write_folder(root / "test", x[N_TRAIN:], y[N_TRAIN:])
    return root


# --- each format reads as the native loader does --------------------------------------------------


def test_png_folder_with_train_and_test_equals_the_idx_files(pngs, native) -> None:
    data = load_image_dataset("imagefolder", pngs)
    assert_same(data, native)
    assert data.format == "imagefolder" and native.format == "idx"
    assert "test split as given (360" in data.split_note


def test_flat_png_folder_carves_the_digits_split(arrays, tmp_path) -> None:
    """No test split in the data: it is carved as the bundled digits' is (seeded, stratified, recorded)."""
    x, y = arrays
    data = load_image_dataset("imagefolder", write_folder(tmp_path, x, y), val_fraction=0.25)
    ref = digits.load()
    for s in SPLITS:
        part, want = getattr(data, s), getattr(ref, s)
        assert torch.equal(part.y, want.y)
        assert torch.equal(part.x, torch.round(want.x * 255).to(torch.uint8).float().div(255))
    assert "no test split in the data: test = stratified 20% of 1797 (359), split seed 0" in data.split_note


def test_classes_come_from_folder_names_or_classes_txt(arrays, tmp_path) -> None:
    x, y = arrays
    keep = np.isin(y, [1, 7])
    names = {1: "one", 7: "seven"}
    root = write_folder(tmp_path / "a", x[keep], y[keep], names)
    data = load_image_dataset("imagefolder", root)
    assert data.classes == ("one", "seven") and set(data.test.y.tolist()) == {0, 1}
    (root / "classes.txt").write_text("seven\tSeven/7\none\tOne/1\n")  # order and names a folder cannot have
    data = load_image_dataset("imagefolder", root)
    assert data.classes == ("Seven/7", "One/1")
    assert torch.equal(data.train.x[data.train.y == 0], data.train.x[data.train.y == 0])
    (root / "classes.txt").write_text("seven\none\ntwo\n")
    with pytest.raises(DataError, match="missing class folders: two"):
        load_image_dataset("imagefolder", root)


def test_jpeg_folder_is_close(arrays, tmp_path) -> None:
    x, y = arrays
    root = write_folder(tmp_path, x[:400], y[:400], suffix=".jpg", quality=95)
    data = load_image_dataset("imagefolder", root)
    assert data.input_shape == (1, 8, 8)
    images = torch.cat([data.train.x, data.val.x, data.test.x])
    assert len(images) == 400
    png = load_image_dataset("imagefolder", write_folder(tmp_path / "p", x[:400], y[:400]))
    assert torch.equal(png.train.y, data.train.y)
    assert (data.train.x - png.train.x).abs().mean() < 0.03


def test_colour_wins_alpha_is_dropped_and_sizes_need_image_size(arrays, tmp_path) -> None:
    x, y = arrays
    root = write_folder(tmp_path, x[:60], y[:60])
    rgba = np.stack([x[0], x[0] // 2, x[0] // 3, np.full_like(x[0], 7)], -1)
    Image.fromarray(rgba, "RGBA").save(root / "0" / "99999.png")
    data = load_image_dataset("imagefolder", root)
    assert data.input_shape == (3, 8, 8)  # one colour image: every image is RGB
    everything = torch.cat([data.train.x, data.val.x, data.test.x])
    gray = ((everything[:, 0] == everything[:, 1]) & (everything[:, 1] == everything[:, 2])).flatten(1).all(1)
    assert int(gray.sum()) == 60  # the grayscale images, repeated to 3 channels
    (colour,) = everything[~gray]
    assert torch.equal(colour[0], torch.from_numpy(x[0]).float().div(255))  # R kept, alpha dropped
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(root / "1" / "99998.png")
    with pytest.raises(DataError, match=r"images of different sizes: 8x8 .* and 10x12.*--image-size"):
        load_image_dataset("imagefolder", root)
    data = load_image_dataset("imagefolder", root, image_size=16)
    assert data.input_shape == (3, 16, 16)


def test_npz_files_equal_the_idx_files_with_classes_from_the_data(arrays, native, tmp_path) -> None:
    x, y = arrays
    names = np.array([f"digit {d}" for d in range(10)])
    np.savez(tmp_path / "train.npz", x=x[:N_TRAIN], y=y[:N_TRAIN], classes=names)
    np.savez(tmp_path / "test.npz", x=x[N_TRAIN:, :, :, None], y=y[N_TRAIN:])  # [N, H, W, C]
    data = load_image_dataset("npz", tmp_path)
    assert data.classes == tuple(names) and data.format == "npz"
    assert_same(data, dataclasses.replace(native, classes=tuple(names)))


def test_one_npz_in_keras_layout_and_channels_first(arrays, native, tmp_path) -> None:
    x, y = arrays
    np.savez_compressed(tmp_path / "mnist.npz", x_train=x[:N_TRAIN, None], y_train=y[:N_TRAIN],
                        x_test=x[N_TRAIN:, None], y_test=y[N_TRAIN:])  # fmt: skip
    assert_same(load_image_dataset("npz", tmp_path), native)


def test_one_npz_of_float_digits_is_the_bundled_digits(tmp_path) -> None:
    x, y = digits.load_arrays()
    np.savez(tmp_path / "digits.npz", x=x.numpy(), y=y.numpy())
    data = load_image_dataset("npz", tmp_path, val_fraction=0.25)
    ref = digits.load()
    assert_same(data, ref)


def write_csv(path: Path, x, y, header=True, labels=None) -> None:
    lines = ["label," + ",".join(f"{r}x{c}" for r in range(1, 9) for c in range(1, 9))] if header else []
    for img, label in zip(x, y, strict=True):
        lines.append(",".join([str(labels[label] if labels else label), *map(str, img.reshape(-1).tolist())]))
    path.write_text("\n".join(lines) + "\n")


def test_mnist_csv_files_equal_the_idx_files(arrays, native, tmp_path) -> None:
    x, y = arrays
    write_csv(tmp_path / "mnist_train.csv", x[:N_TRAIN], y[:N_TRAIN])
    write_csv(tmp_path / "mnist_test.csv", x[N_TRAIN:], y[N_TRAIN:], header=False)  # pjreddie's have none
    data = load_image_dataset("csv", tmp_path)
    assert_same(data, native)
    assert data.format == "csv"


def test_csv_names_and_classes_txt(arrays, tmp_path) -> None:
    x, y = arrays
    names = [f"d{d}" for d in range(10)]
    write_csv(tmp_path / "train.csv", x[:300], y[:300], labels=names)
    (tmp_path / "classes.txt").write_text("\n".join(reversed(names)))
    data = load_image_dataset("csv", tmp_path)
    assert data.classes == tuple(reversed(names))
    (tmp_path / "classes.txt").write_text("\n".join(names[:8]))
    with pytest.raises(DataError, match=r"labels outside the 8 declared classes: 'd8', 'd9'"):
        load_image_dataset("csv", tmp_path)


def hf_dataset(x, y, names):
    import datasets

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    return datasets.Dataset.from_dict(
        {"image": [Image.fromarray(i) for i in x], "label": y.tolist()}, features
    )


def test_hf_saved_to_disk_and_parquet_equal_the_idx_files(arrays, native, tmp_path) -> None:
    import datasets

    x, y = arrays
    names = [str(d) for d in range(10)]
    train, test = hf_dataset(x[:N_TRAIN], y[:N_TRAIN], names), hf_dataset(x[N_TRAIN:], y[N_TRAIN:], names)
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "arrow"))
    data = load_image_dataset("hf", tmp_path / "arrow")
    assert_same(data, native)
    assert data.format == "hf-arrow" and os.environ.get("HF_DATASETS_OFFLINE") == "1"
    (tmp_path / "pq" / "data").mkdir(parents=True)
    train.to_parquet(str(tmp_path / "pq" / "data" / "train-00000-of-00001.parquet"))
    test.to_parquet(str(tmp_path / "pq" / "data" / "test-00000-of-00001.parquet"))
    data = load_image_dataset("hf", tmp_path / "pq")
    assert_same(data, native)
    assert data.format == "hf-parquet"


def test_parquet_files_named_for_their_split(arrays, native, tmp_path) -> None:
    x, y = arrays
    names = [str(d) for d in range(10)]
    hf_dataset(x[:N_TRAIN], y[:N_TRAIN], names).to_parquet(str(tmp_path / "mnist_train.parquet"))
    hf_dataset(x[N_TRAIN:], y[N_TRAIN:], names).to_parquet(str(tmp_path / "mnist_test.parquet"))
    assert_same(load_image_dataset("hf", tmp_path), native)
    hf_dataset(x[:10], y[:10], names).to_parquet(str(tmp_path / "extra.parquet"))
    with pytest.raises(DataError, match="extra.parquet: a .parquet file that names no split"):
        load_image_dataset("hf", tmp_path)


def test_hf_one_dataset_has_its_test_split_carved_and_classlabel_names(arrays, tmp_path) -> None:
    x, y = arrays
    names = [f"n{d}" for d in range(10)]
    hf_dataset(x[:500], y[:500], names).save_to_disk(str(tmp_path))
    data = load_image_dataset("hf", tmp_path)
    assert data.classes == tuple(names) and "no test split in the data" in data.split_note


# --- errors: one line each, saying where and what to do -------------------------------------------


@pytest.fixture
def small(arrays, tmp_path) -> Path:
    x, y = arrays
    return write_folder(tmp_path / "small", x[:100], y[:100])


def test_a_missing_folder_or_none_given(tmp_path) -> None:
    with pytest.raises(DataError, match=r"does not exist.*docs/datasets.md, imagefolder"):
        load_image_dataset("imagefolder", tmp_path / "nope")
    with pytest.raises(DataError, match="needs --data-dir"):
        load_image_dataset("csv")
    (tmp_path / "test").mkdir()
    with pytest.raises(DataError, match="a test folder but no train folder"):
        load_image_dataset("imagefolder", tmp_path)


def test_zero_images_and_empty_classes(tmp_path, small) -> None:
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_image_dataset("imagefolder", tmp_path / "none")
    (small / "ghost").mkdir()
    with pytest.raises(DataError, match=r"ghost: an empty class folder"):
        load_image_dataset("imagefolder", small)


def test_unreadable_and_stray_and_non_regular_files(small) -> None:
    (small / "3" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken.png: not an image Pillow can read"):
        load_image_dataset("imagefolder", small)
    (small / "3" / "broken.png").unlink()
    (small / "3" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes.txt: not a PNG or JPEG file"):
        load_image_dataset("imagefolder", small)
    (small / "3" / "notes.txt").unlink()
    os.mkfifo(small / "3" / "pipe.png")
    with pytest.raises(DataError, match=r"pipe.png: not a regular file"):
        load_image_dataset("imagefolder", small)


def test_a_test_class_unseen_in_training(arrays, tmp_path) -> None:
    x, y = arrays
    write_folder(tmp_path / "train", x[:200], np.where(y[:200] == 9, 8, y[:200]))
    write_folder(tmp_path / "test", x[200:300], y[200:300])
    with pytest.raises(DataError, match="test classes unseen in the training split: 9"):
        load_image_dataset("imagefolder", tmp_path)
    np.savez(tmp_path / "train.npz", x=x[:200], y=np.where(y[:200] == 9, 8, y[:200]))
    np.savez(tmp_path / "test.npz", x=x[200:300], y=y[200:300])
    with pytest.raises(DataError, match=r"test labels unseen in the training split: 9"):
        load_image_dataset("npz", tmp_path)


def test_labels_outside_declared_classes_are_listed(arrays, tmp_path) -> None:
    x, y = arrays
    bad = y[:200].copy()
    bad[:3] = [10, 12, -1]
    np.savez(tmp_path / "data.npz", x=x[:200], y=bad, classes=np.array([str(d) for d in range(10)]))
    with pytest.raises(DataError, match=r"3 labels outside the 10 declared classes: -1, 10, 12 .*ids 0..9"):
        load_image_dataset("npz", tmp_path)


def test_npz_refuses_objects_and_out_of_range_floats(arrays, tmp_path) -> None:
    x, y = arrays
    np.savez(tmp_path / "data.npz", x=x[:50], y=np.array([object()] * 50))
    with pytest.raises(DataError, match="Python objects.*never unpickles"):
        load_image_dataset("npz", tmp_path)
    np.savez(tmp_path / "data.npz", x=x[:50].astype(np.float32), y=y[:50])
    with pytest.raises(DataError, match=r"float pixels outside \[0, 1\] \(min 0, max 255\)"):
        load_image_dataset("npz", tmp_path)


def test_csv_without_label_column_or_square_images(arrays, tmp_path) -> None:
    (tmp_path / "train.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match="no label column"):
        load_image_dataset("csv", tmp_path)
    (tmp_path / "train.csv").write_text("label,a,b,c,d,e\n1,2,3,4,5,6\n")
    with pytest.raises(DataError, match="5 pixel columns make no square image"):
        load_image_dataset("csv", tmp_path)
    (tmp_path / "train.csv").write_text("label,a,b,c,d\n1,2,3,4,5\n1,2,3,4,5\n")
    with pytest.raises(
        DataError, match=r"too few training images of class '1' \(2\) to carve test and validation"
    ):
        load_image_dataset("csv", tmp_path)


def test_image_size_is_for_image_files_only(tmp_path, capsys) -> None:
    from tests.factories import run_cli

    with pytest.raises(DataError, match="image_size applies to image files"):
        load_image_dataset("npz", tmp_path, image_size=8)
    code, _, err = run_cli(capsys, "modularize", "cnn", "--dataset", "csv", "--data-dir", str(tmp_path),
                           "--image-size", "28", "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 2 and "--image-size applies to image files only" in err


def test_a_missing_extra_is_one_line_with_the_install_command(small, monkeypatch) -> None:
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "PIL", None)
        with pytest.raises(DataError, match=r"needs Pillow.*pip install 'nnpm\[images\]'"):
            load_image_dataset("imagefolder", small)
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(DataError, match=r"needs the datasets package.*pip install 'nnpm\[hf\]'"):
        load_image_dataset("hf", small)


# --- end to end: `nnpm modularize cnn --dataset imagefolder` into packages that compose and evaluate --


@pytest.mark.slow
def test_modularize_an_image_folder_then_publish_install_compose_evaluate(arrays, tmp_path) -> None:
    """The library path `nnpm modularize cnn --dataset imagefolder --data-dir DIR` takes gives the figures
    the same tensors give in memory (8-bit digits, the digits' split): same tensors, same seed, same run."""
    from nnpm import api
    from nnpm.science.cnn.mwt import modularize
    from nnpm.science.cnn.train import TrainConfig

    cfg = TrainConfig(epochs=3, batch_size=32, beta=5.0, tau=1.0, seed=0)
    x, y = arrays
    folder = write_folder(tmp_path / "digits-png", x, y)
    report = api.modularize(out=tmp_path / "own", width=0.0625, dataset="imagefolder", data_dir=folder,
                            config=cfg, namespace="own", val_fraction=0.25)  # fmt: skip
    ref = digits.load()
    quantized = {s: dataclasses.replace(getattr(ref, s), x=torch.round(getattr(ref, s).x * 255).div(255))
                 for s in SPLITS}  # fmt: skip
    ref = dataclasses.replace(ref, **quantized)
    same = modularize(ref, "simcnn", 0.0625, cfg, tmp_path / "ref", "ref")
    assert report.dataset == "imagefolder"
    figures = ("standard_accuracy", "modular_accuracy", "mean_krr", "jaccard_coupling")
    assert {f: getattr(report, f) for f in figures} == {f: getattr(same, f) for f in figures}
    assert [m.krr for m in report.modules] == [m.krr for m in same.modules]

    packages = sorted(p for p in (tmp_path / "own").iterdir() if (p / "nnpm.toml").exists())
    api.publish_all(packages)
    api.install(["own/class-3-module", "own/class-8-module"], project=False)
    composite = api.compose_package(["own/class-3-module", "own/class-8-module"], name="own/three-eight",
                                    out=tmp_path / "c", dataset="imagefolder", data_dir=folder)  # fmt: skip
    claimed = composite.manifest.metrics.accuracy.value
    assert 0.5 < claimed <= 1.0
    api.publish(tmp_path / "c")
    result = api.evaluate(tmp_path / "c", dataset="imagefolder", data_dir=folder)
    assert result.value == pytest.approx(claimed, abs=1e-6)
