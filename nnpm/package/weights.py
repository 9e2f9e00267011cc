"""Check safetensors files before anything loads them, without importing torch.

A safetensors file is an 8-byte little-endian header length, a JSON header that maps
tensor names to dtype, shape and byte offsets, then the raw bytes. Reading only the
header lets nnpm refuse a truncated file, an absurd header or wrong shapes with a
clear message, at publish and install time, long before torch is involved.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nnpm.errors import WeightsError

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit the safetensors library itself enforces
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Parse and sanity-check a safetensors header; return each tensor's dtype and shape."""
    where = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise WeightsError(
                    "truncated safetensors file: shorter than its 8-byte header length", where=where
                )
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER_BYTES or length > size - 8:
                raise WeightsError(
                    f"corrupt safetensors file: header length {length} exceeds the file ({size} bytes)",
                    where=where,
                )
            raw = fh.read(length)
    except FileNotFoundError:
        raise WeightsError(
            "weights file is missing", where=where, hint="run `nnpm pack DIR` after adding it"
        ) from None
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise WeightsError(f"corrupt safetensors header ({exc})", where=where) from None
    return _check_layout(header, data_bytes=size - 8 - length, where=where)


def _check_layout(header: Mapping, *, data_bytes: int, where: str) -> dict[str, TensorInfo]:
    tensors: dict[str, TensorInfo] = {}
    end_max = 0
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = (
                meta["dtype"],
                tuple(int(d) for d in meta["shape"]),
                meta["data_offsets"],
            )
        except (KeyError, TypeError, ValueError):
            raise WeightsError(f"corrupt safetensors header entry for {name!r}", where=where) from None
        if dtype not in _DTYPE_BYTES:
            raise WeightsError(f"tensor {name!r} has unsupported dtype {dtype!r}", where=where)
        info = TensorInfo(dtype, shape)
        if not (0 <= begin <= end) or end - begin != info.numel * _DTYPE_BYTES[dtype]:
            raise WeightsError(f"tensor {name!r} has inconsistent byte offsets", where=where)
        end_max = max(end_max, end)
        tensors[name] = info
    if end_max > data_bytes:
        raise WeightsError(
            f"truncated safetensors file: tensors need {end_max} bytes of data, the file has {data_bytes}",
            where=where,
        )
    return tensors


def check_shapes(
    found: Mapping[str, TensorInfo], expected: Mapping[str, tuple[int, ...]], *, where: str
) -> None:
    """Refuse weights whose tensor names or shapes differ from what the architecture builds."""
    missing = sorted(set(expected) - set(found))
    if missing:
        raise WeightsError(f"tensor {missing[0]!r} required by the architecture is missing", where=where)
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        raise WeightsError(f"tensor {unexpected[0]!r} is not part of the architecture", where=where)
    for name, shape in expected.items():
        if tuple(found[name].shape) != tuple(shape):
            raise WeightsError(
                f"tensor {name!r} has shape {list(found[name].shape)}, the architecture expects {list(shape)}",
                where=where,
                hint="the weights do not match [architecture] in nnpm.toml; fix the spec or re-export the weights",
            )
