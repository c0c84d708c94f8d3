"""The import graph stays acyclic: no module imports itself back, and no layer (nor the core)
imports the application. Package-level rules are import-linter contracts (`.importlinter`).

Every top-level module is in the graph. grimp reads packages only, so the top-level
`scheduler.py` joins it by its own imports, read here (those inside functions included): the
scheduler sits under the CLI (`aaltowatch schedule` starts it) and over the layers, so it may
import the core and the layers, never the application.

Storage has one style: `Archive` and the small stores it holds, no module functions that take
the archive.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import grimp
import pytest

ROOTS = ("aaltowatch", "spiders", "pipeline", "storage", "feeds", "pages")
TOP_MODULES = ("scheduler",)  # top-level modules beside the packages
CORE = "aaltowatch.core"
HERE = Path(__file__).resolve().parent.parent


def first_party_imports(path: Path) -> set[str]:
    """Modules of ours a file imports anywhere in it (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] in ROOTS + TOP_MODULES}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    graph = grimp.build_graph(*ROOTS, include_external_packages=True, cache_dir=None)
    for module in TOP_MODULES:
        if module not in graph.modules:  # an import of it made it an external node already
            graph.add_module(module)
        for imported in first_party_imports(HERE / f"{module}.py"):
            graph.add_import(importer=module, imported=imported)
    return graph


def test_every_top_level_module_is_in_the_graph(graph: grimp.ImportGraph) -> None:
    tops = {p.stem for p in HERE.glob("*.py") if p.stem not in ("setup", "conftest")}
    assert tops <= set(TOP_MODULES), f"add {sorted(tops - set(TOP_MODULES))} to TOP_MODULES"
    assert "scheduler" in graph.find_modules_directly_imported_by("aaltowatch.cli")


def is_application(module: str) -> bool:
    """The application: every module of `aaltowatch` outside its core."""
    return module.startswith("aaltowatch.") and not (
        module == CORE or module.startswith(CORE + ".")
    )


def module_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def imports(module: str) -> Any:
        return iter(sorted(graph.find_modules_directly_imported_by(module)))

    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, imports(root))]
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
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
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
                    cycles.append(sorted(component))
    return cycles


def test_no_module_imports_itself_back(graph):
    assert module_cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    cyclic = grimp.ImportGraph()
    for a, b in (("x.a", "x.b"), ("x.b", "x.c"), ("x.c", "x.a"), ("x.c", "x.d")):
        cyclic.add_import(importer=a, imported=b)
    assert module_cycles(cyclic) == [["x.a", "x.b", "x.c"]]


def test_no_layer_and_not_the_core_imports_the_application(graph):
    wrong = sorted(
        (importer, imported)
        for importer in graph.modules
        if not is_application(importer)
        for imported in graph.find_modules_directly_imported_by(importer)
        if is_application(imported)
    )
    assert wrong == []


def test_storage_has_one_style() -> None:
    """`Archive` owns the connection and holds one small store per group of tables (no
    mixins); no storage module has functions that take the archive beside them."""
    from storage import Archive
    from storage.connection import Connection

    assert Archive.__bases__ == (Connection,)
    for path in sorted((HERE / "storage").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.args.args:
                first = node.args.args[0]
                annotation = ast.unparse(first.annotation) if first.annotation else ""
                assert first.arg != "archive" and annotation not in ("Archive", "Store"), (
                    f"storage/{path.name}: {node.name}() takes the archive: make it a method of"
                    " the store that owns its tables"
                )
