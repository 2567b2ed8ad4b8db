"""The layout holds: layers import only downwards, nothing imports itself back through a
cycle, and modules and functions stay small enough to read.

The layers, top to bottom (ruff's banned imports in pyproject.toml enforce the same rule for
the pure core at lint time; this test checks every layer, lazy imports included):

    builder.cli -> builder.run -> builder.session -> builder.effects -> builder.core
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "builder"
# builder/__init__.py (the version) and errors.py are below every layer.
LAYERS = {"core": 1, "effects": 2, "session": 3, "run": 4, "cli": 5, "__main__": 5}
# The CLI's own helpers: tables and JSON (console), progress displays (display).
LAYERS |= {"console": 5, "display": 5}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (lazy imports too), with its line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                yield (name if name in known else node.module), node.lineno


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def test_layers_import_only_downwards() -> None:
    known = modules()
    wrong = []
    for module, path in known.items():
        for name, line in imports(path, known):
            if name.startswith("builder") and layer(name) > layer(module):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {name}")
            if name == "subprocess" and layer(module) != LAYERS["effects"]:
                wrong.append(
                    f"{path.relative_to(ROOT)}:{line}: only builder.effects runs processes"
                )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    known = modules()
    graph = {
        m: sorted({n for n, _ in imports(p, known) if n in known and n != m})
        for m, p in known.items()
    }
    cycles = [scc for scc in _strongly_connected(graph) if len(scc) > 1]
    assert not cycles, f"import cycles: {cycles}"


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the graph's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root, edges in graph.items():
        if root in index:
            continue
        work = [(root, iter(edges))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
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
                    components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert [c for c in _strongly_connected(graph) if len(c) > 1] == [["a", "b", "c"]]


def test_modules_and_functions_stay_small() -> None:
    """Where a module passes 600 lines or a function 60, split it."""
    too_big = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py")]):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        if text.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{where}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_big.append(f"{where}:{node.lineno}: {node.name} has {length} lines")
    assert not too_big, "\n".join(too_big)
