"""Check safetensors files before anything loads them, without importing torch.

A safetensors file is an 8-byte little-endian header length, a JSON header that maps
tensor names to dtype, shape and byte offsets, then the raw bytes. Reading only the
header lets nnpm refuse a truncated file, an absurd header or wrong shapes with a
clear message, at publish and install time, long before torch is involved.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nnpm.errors import WeightsError

MAX_HEADER_BYTES = 100_000_000  # the limit the safetensors library itself enforces (MAX_HEADER_SIZE)
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
_METADATA = "__metadata__"


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Parse a safetensors header and check it exactly as the format allows; return dtypes and shapes.

    The header length fits the file and is at most MAX_HEADER_BYTES; the header is a UTF-8 JSON
    object (space-padded at most); every tensor has a known dtype, a shape of non-negative
    integers and data_offsets that, sorted, tile the data area from 0 to the end of the file with
    no gap or overlap; `__metadata__` maps strings to strings. Anything else is a WeightsError.
    """
    where = str(path)
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            if len(head) < 8:
                raise WeightsError(
                    "truncated safetensors file: shorter than its 8-byte header length", where=where
                )
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER_BYTES or length > size - 8:
                raise WeightsError(
                    f"corrupt safetensors file: header length {length} exceeds the file ({size} bytes)"
                    if length <= MAX_HEADER_BYTES
                    else f"corrupt safetensors file: header length {length} exceeds {MAX_HEADER_BYTES} bytes",
                    where=where,
                )
            raw = fh.read(length)
    except FileNotFoundError:
        raise WeightsError(
            "weights file is missing", where=where, hint="run `nnpm pack DIR` after adding it"
        ) from None
    header = _parse_json(raw, where=where)
    return _check_layout(header, data_bytes=size - 8 - length, where=where)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _parse_json(raw: bytes, *, where: str) -> dict:
    if not raw.startswith(b"{"):
        raise WeightsError("corrupt safetensors header (it does not start with '{')", where=where)
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise WeightsError("corrupt safetensors header (nested too deeply)", where=where) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WeightsError(f"corrupt safetensors header ({_short(exc)})", where=where) from None
    if not isinstance(header, dict):
        raise WeightsError("corrupt safetensors header (not a JSON object)", where=where)
    return header


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_layout(header: Mapping, *, data_bytes: int, where: str) -> dict[str, TensorInfo]:
    tensors: dict[str, TensorInfo] = {}
    spans: list[tuple[int, int, str]] = []
    for name, meta in header.items():
        if name == _METADATA:
            if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
                raise WeightsError(
                    "corrupt safetensors header: __metadata__ must map strings to strings", where=where
                )
            continue
        label = _short(repr(name))
        if not isinstance(meta, dict) or not {"dtype", "shape", "data_offsets"} <= set(meta):
            raise WeightsError(
                f"corrupt safetensors header entry for {label}: needs dtype, shape and data_offsets",
                where=where,
            )
        dtype, shape, offsets = meta["dtype"], meta["shape"], meta["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPE_BYTES:
            raise WeightsError(f"tensor {label} has unsupported dtype {_short(repr(dtype))}", where=where)
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise WeightsError(
                f"tensor {label} has an invalid shape (a list of non-negative integers is required)",
                where=where,
            )
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
            raise WeightsError(
                f"tensor {label} has invalid data_offsets (two integers are required)", where=where
            )
        begin, end = offsets
        info = TensorInfo(dtype, tuple(shape))
        if 0 <= begin <= end and end > data_bytes:
            raise WeightsError(
                f"truncated safetensors file: tensor {label} needs {end} bytes of data, the file has {data_bytes}",
                where=where,
            )
        if not (0 <= begin <= end) or end - begin != info.numel * _DTYPE_BYTES[dtype]:
            raise WeightsError(f"tensor {label} has inconsistent byte offsets", where=where)
        spans.append((begin, end, label))
        tensors[name] = info
    position = 0
    for begin, end, label in sorted(spans):
        if begin != position:
            raise WeightsError(
                f"tensor {label} has byte offsets that "
                + ("overlap another tensor" if begin < position else f"leave a gap at byte {position}"),
                where=where,
            )
        position = end
    if position != data_bytes:
        raise WeightsError(
            f"corrupt safetensors file: tensors hold {position} bytes of data, the file has {data_bytes}",
            where=where,
            hint="the file has trailing bytes or was cut short; re-export it with safetensors.torch.save_file",
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
