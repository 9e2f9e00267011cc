"""The structure that must not decay: layers, no import cycles, and the public API table."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

import nnpm

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_linter_contracts_hold():
    """pyproject.toml's [tool.importlinter]: cli -> api -> science -> composition -> nn -> ... -> package."""
    done = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_through_others():
    """Function-level imports count too: a cycle hidden in a function is still a cycle."""
    graph = grimp.build_graph("nnpm", exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph) == [["p.a", "p.b"]]


def test_lazy_exports_and_type_checking_imports_agree():
    """nnpm/__init__.py lists each public name twice (the lazy table and the TYPE_CHECKING block)."""
    tree = ast.parse((ROOT / "nnpm" / "__init__.py").read_text())
    typed = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                typed.update({alias.name: imp.module for alias in imp.names})
    assert typed == nnpm._LAZY
    assert sorted(nnpm.__all__) == sorted([*nnpm._LAZY, "__version__"])
    for name in nnpm._LAZY:
        assert getattr(nnpm, name) is not None


def test_nnpm_compose_is_the_function_even_after_composition_is_imported():
    import nnpm.composition.assemble  # noqa: F401  (a subpackage import must not rebind the name)

    assert callable(nnpm.compose) and nnpm.compose.__name__ == "compose"
    assert nnpm.Client.__name__ == "Client"


def test_no_source_file_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "nnpm").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
