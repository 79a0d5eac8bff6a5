"""No import cycle anywhere in the three packages, function-level imports
included: a cycle hidden behind an import inside a function is still a
cycle of responsibilities (ARCHITECTURE.md). grimp is import-linter's own
graph builder, so this sees exactly the imports the contracts see."""

from __future__ import annotations

import grimp

PACKAGES = ("console", "connectors", "screens")


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.find_modules_directly_imported_by(node)):
            if nxt.split(".")[0] not in PACKAGES:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module.split(".")[0] in PACKAGES and module not in index:
            visit(module)
    return found


def test_no_import_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    assert _cycles(graph) == []


def test_the_check_sees_function_level_imports() -> None:
    # The known shape of the old hidden cycles: a function-level import back up.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    graph.add_import(importer="console.core.session", imported="console.core.config")
    graph.add_import(importer="console.core.config", imported="console.core.session")
    pair = {"console.core.config", "console.core.session"}
    assert any(pair <= set(component) for component in _cycles(graph))
