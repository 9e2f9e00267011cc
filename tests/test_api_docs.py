"""docs/api.md: its example runs as written, and its table names every public function."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nnpm

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def test_the_client_example_runs_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    assert blocks
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NNPM_HOME": str(tmp_path / "unused")}
    done = subprocess.run(
        [sys.executable, "-c", blocks[0]], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "digits/mlp==1.0.0" in done.stdout
    assert not (tmp_path / "unused").exists()  # the client used its own home, not the environment's


def test_every_public_function_is_in_the_table():
    functions = [name for name in nnpm._LAZY if name[0].islower()]
    missing = [name for name in functions if f"`{name}(" not in DOC]
    assert missing == []
