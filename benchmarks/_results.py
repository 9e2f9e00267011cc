"""Shared by the benchmark scripts: one JSON line per result, on stdout and appended to a file."""

from __future__ import annotations

import json
from pathlib import Path


def emit(row: dict, out: Path | None) -> None:
    line = json.dumps(row)
    print(line, flush=True)
    if out:
        with out.open("a") as fh:
            fh.write(line + "\n")
