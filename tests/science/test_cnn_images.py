"""Image dataset loaders read the standard on-disk formats: IDX (gz or not), CIFAR-10 binary, SVHN .mat v5."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import pytest
import torch

from nnpm.datasets.images import load_image_dataset, read_mat_v5
from nnpm.errors import DataError


def _idx(path: Path, data: torch.Tensor, gz: bool) -> None:
    header = bytes([0, 0, 8, data.dim()]) + struct.pack(f">{data.dim()}I", *data.shape)
    raw = header + bytes(data.flatten().tolist())
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder(tmp_path: Path, gz: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    sfx = ".gz" if gz else ""
    for prefix, n in (("train", 60), ("t10k", 20)):
        _idx(
            tmp_path / f"{prefix}-images-idx3-ubyte{sfx}", torch.randint(0, 256, (n, 5, 5), generator=gen), gz
        )
        _idx(tmp_path / f"{prefix}-labels-idx1-ubyte{sfx}", torch.arange(n) % 10, gz)
    data = load_image_dataset("fashion-mnist", tmp_path, val_fraction=0.2)
    assert data.input_shape == (1, 5, 5)
    assert len(data.train) == 50 and len(data.val) == 10 and len(data.test) == 20
    assert data.classes[9] == "Ankle boot"
    assert float(data.train.x.min()) >= 0 and float(data.train.x.max()) <= 1
    assert sorted(data.val.y.tolist()) == list(range(10))  # stratified


def test_cifar10_binary(tmp_path: Path) -> None:
    def batch(name: str, n: int) -> None:
        labels = torch.arange(n, dtype=torch.uint8) % 10
        pixels = torch.arange(n * 3072, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(n, 3072)
        (tmp_path / name).write_bytes(bytes(torch.cat([labels[:, None], pixels], 1).flatten().tolist()))

    for i in range(1, 6):
        batch(f"data_batch_{i}.bin", 10)
    batch("test_batch.bin", 10)
    data = load_image_dataset("cifar10", tmp_path)
    assert data.input_shape == (3, 32, 32)
    assert len(data.train) + len(data.val) == 50 and len(data.test) == 10
    assert data.classes[0] == "airplane"
    assert abs(float(data.test.x[0, 0, 0, 1]) - 1 / 255) < 1e-6


def _mat_element(mtype: int, payload: bytes) -> bytes:
    pad = -len(payload) % 8
    return struct.pack("<II", mtype, len(payload)) + payload + b"\0" * pad


def _mat_matrix(name: str, array: torch.Tensor, mclass: int, mtype: int) -> bytes:
    dims = list(array.shape)
    body = _mat_element(6, struct.pack("<II", mclass, 0))
    body += _mat_element(5, struct.pack(f"<{len(dims)}i", *dims))
    body += _mat_element(1, name.encode())
    flat = array.permute(*reversed(range(array.dim()))).contiguous().flatten()  # MATLAB is column-major
    body += _mat_element(mtype, flat.numpy().tobytes())
    return _mat_element(14, body)


def _mat_file(path: Path, arrays: list[bytes], compress: bool) -> None:
    header = b"MATLAB 5.0 MAT-file".ljust(116) + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    body = (
        b"".join(struct.pack("<II", 15, len(z)) + z for z in (zlib.compress(a) for a in arrays))
        if compress
        else b"".join(arrays)
    )
    path.write_bytes(header + body)


@pytest.mark.parametrize("compress", [False, True])
def test_svhn_mat_v5(tmp_path: Path, compress: bool) -> None:
    for split, n in (("train", 40), ("test", 10)):
        x = torch.randint(0, 256, (32, 32, 3, n), dtype=torch.uint8)
        y = (torch.arange(n, dtype=torch.float64) % 10 + 1).reshape(n, 1)  # labels 1..10, 10 is the digit 0
        _mat_file(
            tmp_path / f"{split}_32x32.mat", [_mat_matrix("X", x, 9, 2), _mat_matrix("y", y, 6, 9)], compress
        )
        if split == "test":
            expected = x
    arrays = read_mat_v5(tmp_path / "test_32x32.mat")
    assert torch.equal(arrays["X"], expected)
    data = load_image_dataset("svhn", tmp_path, val_fraction=0.25)
    assert data.input_shape == (3, 32, 32)
    assert data.test.y.tolist()[:10] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    assert torch.allclose(data.test.x[0, :, 3, 5], expected[3, 5, :, 0].float() / 255)


def test_errors_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown dataset"):
        load_image_dataset("imagenet")
    with pytest.raises(DataError, match="needs --data-dir"):
        load_image_dataset("svhn")
    with pytest.raises(DataError, match="no images file"):
        load_image_dataset("mnist", tmp_path)
