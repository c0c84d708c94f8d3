"""The import graph stays acyclic: no module imports itself back, and no layer (nor the core)
imports the application. Package-level rules are import-linter contracts (`.importlinter`)."""

from __future__ import annotations

from typing import Any

import grimp
import pytest

ROOTS = ("aaltowatch", "spiders", "pipeline", "storage", "feeds", "pages")
CORE = "aaltowatch.core"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*ROOTS, include_external_packages=False, cache_dir=None)


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
