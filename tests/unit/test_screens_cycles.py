"""No import cycle inside ``screens`` (function-level and TYPE_CHECKING imports
count too): navigation, the write flow and the dialogs are below the screens
that use them (issue 10)."""

from __future__ import annotations

import grimp


def test_screens_have_no_import_cycle() -> None:
    graph = grimp.build_graph("screens", "console", "connectors")
    modules = sorted(m for m in graph.modules if m.split(".")[0] == "screens")
    cycles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.split(".")[0] != "screens":
                continue
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(" -> ".join((module, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
