"""How fast the CLI starts, as ratios against `pip list` measured in the same run.

    python benchmarks/cli_startup.py [--repeat 15] [--json]

Commands that run no network must not import torch; this prints the median wall
time of each command over --repeat runs (after one warm-up) and its ratio to
`pip list`, the yardstick (issue 15's target: nnpm list and nnpm show <= 0.25x). The
warm-up leaves the markers of the documents that passed their schema
(nnpm.package.validated), so the rows are what every run after the first costs; "nothing
remembered" deletes them before each run, so that show validates (and imports jsonschema)
again. `python -c "import torch"` is shown for scale. Machines here are noisy: compare
ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _time(cmd: list[str], repeat: int, env: dict[str, str]) -> float:
    subprocess.run(cmd, capture_output=True, env=env, check=True)  # warm the file cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: give at least 1 run to take the median of")
    env = {**os.environ, "NNPM_HOME": tempfile.mkdtemp(prefix="nnpm-bench-")}
    nnpm = str(BIN / "nnpm")
    # one package published and installed, so that list, search and show have something to read
    example = Path(__file__).resolve().parents[1] / "examples" / "packages" / "digits-mlp"
    for setup in (["publish", str(example)], ["install", "digits/mlp", "--no-save"]):
        subprocess.run([nnpm, *setup], capture_output=True, env=env, check=True)
    commands = {
        "pip list (yardstick)": [sys.executable, "-m", "pip", "list"],
        "nnpm --help": [nnpm, "--help"],
        "nnpm list": [nnpm, "list"],
        "nnpm search digits": [nnpm, "search", "digits"],
        "nnpm show digits/mlp": [nnpm, "show", "digits/mlp"],
        "  ... nothing remembered": ["sh", "-c", f'rm -rf "$NNPM_HOME/cache" && exec {nnpm} show digits/mlp'],
        "nnpm registry list": [nnpm, "registry", "list"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    seconds = {name: _time(cmd, args.repeat, env) for name, cmd in commands.items()}
    yardstick = seconds["pip list (yardstick)"]
    rows = [
        {"command": n, "median_s": round(s, 3), "ratio_to_pip_list": round(s / yardstick, 2)}
        for n, s in seconds.items()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"median of {args.repeat} runs each, Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"{'command':28} {'median s':>9} {'x pip list':>11}")
    for row in rows:
        print(f"{row['command']:28} {row['median_s']:9.3f} {row['ratio_to_pip_list']:11.2f}")


if __name__ == "__main__":
    main()
