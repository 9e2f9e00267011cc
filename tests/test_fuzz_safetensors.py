"""The seeded fuzz of the safetensors header check (tests/test_fuzz_readers.py has the rest): hostile
headers near the size limit, overlapping or gapped offsets, non-integer shapes, non-string metadata;
only nnpm's own errors may escape."""

from __future__ import annotations

import json
import struct
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from nnpm.package.weights import MAX_HEADER_BYTES, read_header
from tests.test_fuzz_readers import FUZZ, _read_file, nested, only_nnpm_errors

# --- safetensors headers -------------------------------------------------------------------------

DTYPES = {"F32": 4, "F16": 2, "I64": 8, "U8": 1, "BOOL": 1}


@st.composite
def safetensors_files(draw: st.DrawFn) -> bytes:
    """A safetensors file, valid or with one part of its header or layout made wrong."""
    tensors = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(DTYPES)), st.lists(st.integers(0, 4), max_size=3)),
            min_size=0,
            max_size=4,
        )
    )
    header: dict[str, Any] = {}
    position = 0
    for i, (dtype, shape) in enumerate(tensors):
        size = DTYPES[dtype]
        for d in shape:
            size *= d
        header[f"t{i}"] = {"dtype": dtype, "shape": shape, "data_offsets": [position, position + size]}
        position += size
    if draw(st.booleans()):
        header["__metadata__"] = {"format": "pt"}
    data = bytes(position)
    flaw = draw(
        st.sampled_from(
            ["none", "offsets", "shape", "dtype", "metadata", "entry", "trailing", "cut", "length", "json"]
        )
    )
    names = [k for k in header if k != "__metadata__"]
    hostile_number = st.one_of(
        st.integers(-(2**70), 2**70),
        st.sampled_from([10**400, -1, 1.0, 2.5, float("inf"), float("nan"), True, "1", None, [1], {}]),
    )
    if flaw == "offsets" and names:
        entry = header[draw(st.sampled_from(names))]
        kind = draw(st.sampled_from(["shift", "value", "length", "swap"]))
        if kind == "shift":
            side = draw(st.integers(0, 1))
            entry["data_offsets"][side] += draw(st.integers(-8, 8))
        elif kind == "value":
            entry["data_offsets"][draw(st.integers(0, 1))] = draw(hostile_number)
        elif kind == "length":
            entry["data_offsets"] = draw(st.lists(st.integers(0, 64), max_size=4))
        else:
            entry["data_offsets"].reverse()
    elif flaw == "shape" and names:
        entry = header[draw(st.sampled_from(names))]
        entry["shape"] = draw(st.one_of(st.lists(hostile_number, max_size=3), hostile_number))
    elif flaw == "dtype" and names:
        header[draw(st.sampled_from(names))]["dtype"] = draw(st.one_of(st.text(max_size=8), hostile_number))
    elif flaw == "metadata":
        header["__metadata__"] = draw(
            st.one_of(
                st.dictionaries(st.text(max_size=5), hostile_number, min_size=1, max_size=3),
                hostile_number,
                st.just(nested(40, "x")),
            )
        )
    elif flaw == "entry":
        header[draw(st.text(max_size=8))] = draw(
            st.one_of(
                hostile_number,
                st.dictionaries(st.sampled_from(["dtype", "shape", "data_offsets"]), hostile_number),
            )
        )
    try:
        raw = json.dumps(header).encode("utf-8")
    except ValueError:
        raw = b"{}"
    if flaw == "json":
        raw = draw(
            st.sampled_from(
                [
                    b"{" + b"[" * 100_000,
                    b'{"a": ' * 3000 + b"1" + b"}" * 3000,
                    b"{\xff\xfe}",
                    b"[]",
                    b"{}   ",
                    b'{"t": NaN}',
                    b'{"t": Infinity}',
                    b'{"t": ' + b"9" * 5000 + b"}",
                    b"",
                    b"{" + b" " * 7,
                ]  # fmt: skip
            )
        )
    if draw(st.booleans()):
        raw += b" " * draw(st.integers(0, 7))  # the format pads the header with spaces to 8 bytes
    length = len(raw)
    if flaw == "length":
        length = draw(
            st.sampled_from(
                [
                    0,
                    1,
                    7,
                    len(raw) - 1,
                    len(raw) + 1,
                    len(raw) + len(data),
                    len(raw) + len(data) + 1,
                    MAX_HEADER_BYTES - 1,
                    MAX_HEADER_BYTES,
                    MAX_HEADER_BYTES + 1,
                    104_857_600,
                    2**63,
                    2**64 - 1,
                ]  # fmt: skip
            )
        )
        length = max(0, min(length, 2**64 - 1))
    body = struct.pack("<Q", length) + raw + data
    if flaw == "trailing":
        body += draw(st.binary(min_size=1, max_size=16))
    elif flaw == "cut":
        body = body[: draw(st.integers(0, max(len(body) - 1, 0)))]
    return body


@FUZZ
@given(st.one_of(safetensors_files(), safetensors_files(), st.binary(max_size=64)))
@example(struct.pack("<Q", 2) + b"{}")
@example(struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}")
def test_safetensors_header(data):
    _read_file(read_header, "weights.safetensors", data)


def test_a_header_length_at_the_limit_in_a_file_that_large_is_read_and_refused_cleanly(tmp_path):
    """A sparse file: the header length is exactly MAX_HEADER_BYTES, the header all zero bytes."""
    path = tmp_path / "weights.safetensors"
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", MAX_HEADER_BYTES) + b"{")
        fh.truncate(8 + MAX_HEADER_BYTES)
    only_nnpm_errors(read_header, path)
