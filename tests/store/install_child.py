"""An `nnpm install` that stops at a chosen point, says so in a marker file, and waits to be killed.

Run by tests/store/test_store.py as a separate process:

    python install_child.py POINT PACKAGE MARKER LOG [--force] SPEC...

POINT is where to stop while installing PACKAGE:

- `fetch`: in the middle of downloading its first file from the registry (the progress
  callback the registry calls as bytes arrive);
- `staged`: its staged copy is complete and checked, just before the rename into packages/;
- `aside`: replacing an installed copy (`--force`) the way systems without an atomic exchange
  do, after the old copy was moved aside and before the new one is moved in;
- `exchanged`: replacing an installed copy, just after the atomic exchange of the two folders.

Every package the install finishes is appended to LOG (one name a line) as it finishes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nnpm.store.store as store_module
from nnpm import api
from nnpm.progress import Progress


def main(argv: list[str]) -> None:
    point, package, marker, log = argv[0], argv[1], Path(argv[2]), Path(argv[3])
    force = "--force" in argv[4:]
    specs = [a for a in argv[4:] if a != "--force"]

    def stop(what: str) -> None:
        marker.write_text(what, encoding="utf-8")
        time.sleep(600)  # killed long before this ends

    def is_target(path: Path) -> bool:
        return (
            "/".join(Path(path).parts[-3:-1]) == package
            and Path(path).parent.parent.parent.name == "packages"
        )

    class Hooks(Progress):
        current = ""

        def start(self, total, desc, *, unit="step"):
            self.current = desc.partition("==")[0]

        def advance(self, n=1, **figures):
            if point == "fetch" and self.current == package:
                stop(f"fetching {package}")

        def note(self, event, **details):
            if event == "installed":
                with log.open("a", encoding="utf-8") as fh:
                    fh.write(f"{str(details['package']).partition('==')[0]}\n")

    move, exchange = store_module._move, store_module.exchange_paths

    def stopping_move(source: Path, dest: Path) -> None:
        if point == "staged" and is_target(dest):
            stop(f"staged {package}")
        if point == "aside" and is_target(dest) and not dest.exists():
            stop(f"moved the old {package} aside")
        move(source, dest)

    def stopping_exchange(a: Path, b: Path) -> bool:
        if point == "aside":
            return False  # as on a system without renameat2
        done = exchange(a, b)
        if point == "exchanged" and is_target(b):
            stop(f"exchanged {package}" if done else f"could not exchange {package}")
        return done

    store_module._move = stopping_move
    store_module.exchange_paths = stopping_exchange
    api.install(specs, project=False, force=force, reporter=Hooks())
    marker.write_text("finished without stopping", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
