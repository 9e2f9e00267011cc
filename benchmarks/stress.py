"""Kill nnpm at random points and race it against itself; count what broke (0 expected).

    python benchmarks/stress.py [--kills 100] [--rounds 50] [--seed 0] [--work DIR]

The kill loop SIGKILLs the real CLI (`nnpm install`, `nnpm install --force`, `nnpm uninstall`,
`nnpm publish` of a multi-file package: two safetensors files and two 2 MiB data files, one
shared by every version) at a random moment of its run, then checks: `nnpm verify` exits 0,
the local registry's index agrees with its manifests and blobs, the killed command run again
succeeds, and after it no staged copy, unlinked blob or `*.tmp` file is left.

The concurrency loop runs rounds of 2-4 processes at once on one NNPM_HOME (install,
uninstall, verify, publish of a new version, registry add) and checks each one's exit code,
that no install, publish or registry entry that reported success was lost, and `nnpm verify`
and the index after the round. The seed fixes every choice (operations, kill delays, package
bytes); the moments a kill lands still depend on the machine's timing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from stress_support import (
    NNPM,
    installed,
    make_package,
    registry_leftovers,
    registry_problems,
    store_leftovers,
    workspace,
)

from nnpm.registry.sparse_index import snapshot

# --- the kill loop ---------------------------------------------------------------------------------

KILL_OPS = ("install", "install --force", "uninstall", "publish")


def kill_loop(kills: int, rng: random.Random, work: Path) -> dict:
    run, _cwd, build, registry, store, shared = workspace(work, "kill", rng)
    next_version = iter(range(1, 10**6))

    def new_package() -> Path:
        return make_package(build, "stress/multi", f"1.0.{next(next_version)}", rng, shared)

    def must(*args: str) -> None:
        code, err, _ = run.run(*args)
        if code != 0:
            raise SystemExit(f"nnpm {' '.join(args)} failed ({code}): {err}")

    must("publish", str(new_package()))
    durations: dict[str, float] = {}
    for op in KILL_OPS:  # one run of each, unkilled: how long the kill window is
        if op == "publish":
            args = ["publish", str(new_package())]
        else:
            args = (
                [*op.split(), "stress/multi"] if op != "install" else ["install", "--no-save", "stress/multi"]
            )
            if op == "install --force":
                args = ["install", "--no-save", "--force", "stress/multi"]
        if op == "uninstall":
            must("install", "--no-save", "stress/multi")
        code, err, took = run.run(*args)
        if code != 0:
            raise SystemExit(f"calibration: nnpm {' '.join(args)} failed ({code}): {err}")
        durations[op] = took

    counts: dict[str, Counter] = {op: Counter() for op in KILL_OPS}
    times: dict[str, list[float]] = defaultdict(list)
    examples: list[str] = []
    for _ in range(kills):
        op = rng.choice(KILL_OPS)
        if op == "publish":
            args = ["publish", str(new_package())]
        elif op == "uninstall":
            args = ["uninstall", "stress/multi"]
            if not any(n.startswith("stress/multi==") for n in installed(store)):
                must("install", "--no-save", "stress/multi")
        else:
            args = ["install", "--no-save", *(["--force"] if "force" in op else []), "stress/multi"]
        delay = rng.uniform(0.05, 0.9) * durations[op]  # a moment of a typical run, mostly past start-up
        began = time.perf_counter()
        proc = run.start(*args)
        try:
            proc.wait(timeout=delay)
            landed = False  # it finished first
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            landed = True
        proc.stderr.close()
        c = counts[op]
        c["kills"] += 1
        c["killed running"] += landed
        problems = []
        code, err, took = run.run("verify")
        times["verify"].append(took)
        if code != 0:
            c["verify failed"] += 1
            problems.append(f"verify exit {code}: {err.strip()[-300:]}")
        bad = registry_problems(registry)
        if bad:
            c["index inconsistent"] += 1
            problems += bad[:2]
        code, err, took = run.run(*args)  # the same command again must succeed
        times[op].append(took)
        if code != 0 and not (op == "uninstall" and code == 4):
            c["rerun failed"] += 1
            problems.append(f"rerun exit {code}: {err.strip()[-300:]}")
        left = registry_leftovers(registry) if op == "publish" else store_leftovers(store)
        if left:
            c["leftovers"] += 1
            problems.append(f"left behind: {left[:3]}")
        if problems and len(examples) < 10:
            examples.append(
                f"{op} killed after {delay:.2f}s ({time.perf_counter() - began:.1f}s): {problems}"
            )
    return {"counts": counts, "times": times, "durations": durations, "examples": examples}


# --- the concurrency loop --------------------------------------------------------------------------

RACE_OPS = ("install", "uninstall", "verify", "publish", "registry add")


def concurrency_loop(rounds: int, rng: random.Random, work: Path) -> dict:
    run, cwd, build, registry, store, shared = workspace(work, "race", rng)
    names = [f"stress/c{i}" for i in range(3)]
    for name in names:
        code, err, _ = run.run("publish", str(make_package(build, name, "1.0.0", rng, shared)))
        if code != 0:
            raise SystemExit(f"publish {name} failed: {err}")
    counts: Counter = Counter()
    times: dict[str, list[float]] = defaultdict(list)
    round_times: list[float] = []
    examples: list[str] = []
    added: set[str] = set()
    published: set[str] = set()
    version = 0
    for r in range(rounds):
        ops = [rng.choice(RACE_OPS) for _ in range(rng.randint(2, 4))]
        jobs = []
        for op in ops:
            if op in ("install", "uninstall"):
                target = rng.choice(names)
                args = ["install", "--no-save", target] if op == "install" else ["uninstall", target]
            elif op == "verify":
                target, args = "", ["verify"]
            elif op == "publish":
                version += 1
                target = f"stress/pub==2.0.{version}"
                args = ["publish", str(make_package(build, "stress/pub", f"2.0.{version}", rng, shared))]
            else:
                target = f"r{r}-{len(jobs)}"
                args = ["registry", "add", target, str(work / "registries" / target)]
            jobs.append((op, target, args))
        began = time.perf_counter()
        procs = [(job, time.perf_counter(), run.start(*job[2])) for job in jobs]
        results = []
        for job, started, proc in procs:
            _, err = proc.communicate(timeout=300)
            times[job[0]].append(time.perf_counter() - started)
            results.append((job, proc.returncode, err.decode("utf-8", "replace")))
        round_times.append(time.perf_counter() - began)
        counts["processes"] += len(jobs)
        problems = []
        uninstalled = {target for (op, target, _), _, _ in results if op == "uninstall"}
        now = installed(store)
        for (op, target, _args), code, err in results:
            ok = code == 0 or (op == "uninstall" and code == 4)
            if not ok:
                counts["failed exits"] += 1
                counts["verify exit 3 (false alarm)"] += op == "verify" and code == 3
                problems.append(f"{op} {target} exit {code}: {err.strip()[-300:]}")
            if op == "install" and code == 0 and target not in uninstalled and f"{target}==1.0.0" not in now:
                counts["lost installs"] += 1
                problems.append(f"install {target} reported success but it is not installed")
            if op == "publish" and code == 0:
                published.add(target)
            if op == "registry add" and code == 0:
                added.add(target)
        versions = {f"stress/pub=={v}" for v in snapshot(registry).get("stress/pub", {})}
        lost = published - versions
        counts["lost publishes"] += len(lost)
        listed = json.loads(subprocess.run([*NNPM, "registry", "list", "--json"], env=run.env, cwd=cwd,
                                           capture_output=True, check=True).stdout)  # fmt: skip
        names_listed = {entry["name"] for entry in listed} if isinstance(listed, list) else set(listed)
        missing = added - names_listed
        counts["lost registry entries"] += len(missing)
        added -= missing  # counted once
        published -= lost
        code, err, took = run.run("verify")
        times["verify (after)"].append(took)
        if code != 0:
            counts["verify after the round failed"] += 1
            problems.append(f"verify after the round: exit {code}: {err.strip()[-300:]}")
        bad = registry_problems(registry)
        counts["index inconsistent"] += bool(bad)
        problems += bad[:2] + [f"lost: {sorted(lost | missing)}"] * bool(lost or missing)
        if problems and len(examples) < 10:
            examples.append(f"round {r} {[j[0] for j in jobs]}: {problems}")
    return {"counts": counts, "times": times, "round_times": round_times, "examples": examples}


# --- the report ------------------------------------------------------------------------------------


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def report(kill: dict, race: dict, args: argparse.Namespace, took: dict[str, float]) -> str:
    lines = [
        f"python benchmarks/stress.py --kills {args.kills} --rounds {args.rounds} --seed {args.seed}",
        "",
    ]
    cols = ["kills", "killed running", "verify failed", "index inconsistent", "rerun failed", "leftovers"]
    lines.append(f"kill loop: {args.kills} SIGKILLs ({took['kill']:.0f} s)")
    lines.append(f"{'operation':<16}" + "".join(f"{c:>{len(c) + 2}}" for c in cols) + f"{'median run s':>14}")
    total = Counter()
    for op, c in kill["counts"].items():
        total.update(c)
        row = "".join(f"{c[col]:>{len(col) + 2}}" for col in cols)
        lines.append(f"{op:<16}{row}{_median(kill['times'][op]):>14}")
    row = "".join(f"{total[col]:>{len(col) + 2}}" for col in cols)
    lines.append(f"{'all':<16}{row}{_median(kill['times']['verify']):>14} (verify)")
    lines += [
        "",
        f"concurrency loop: {args.rounds} rounds of 2-4 processes on one NNPM_HOME ({took['race']:.0f} s)",
    ]
    c = race["counts"]
    for key in ("processes", "failed exits", "verify exit 3 (false alarm)", "lost installs", "lost publishes",
                "lost registry entries", "verify after the round failed", "index inconsistent"):  # fmt: skip
        lines.append(f"  {key:<34}{c[key]:>6}")
    ops = ", ".join(f"{op} {_median(race['times'][op])}" for op in (*RACE_OPS, "verify (after)"))
    lines.append(f"  median s per process: {ops}; per round {_median(race['round_times'])}")
    violations = sum(total[col] for col in cols[2:]) + sum(c[k] for k in c if k != "processes")
    lines += ["", f"violations: {violations} (0 expected)"]
    for example in kill["examples"] + race["examples"]:
        lines.append(f"  {example}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep the homes here (default: a temporary folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="nnpm-stress-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["NNPM_HOME"] = str(work / "pack-home")  # packing here reads no user's store or registry
    rng = random.Random(args.seed)
    try:
        began = time.perf_counter()
        kill = kill_loop(args.kills, rng, work)
        middle = time.perf_counter()
        race = concurrency_loop(args.rounds, rng, work)
        took = {"kill": middle - began, "race": time.perf_counter() - middle}
        print(report(kill, race, args, took))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
