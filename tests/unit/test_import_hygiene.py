"""Layers stay apart and heavy imports stay off the path to the first frame."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from connectors import discovery


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(out.stdout.split())


def test_connectors_import_no_ui_and_no_core() -> None:
    mods = loaded_after(
        "import connectors.base, connectors.records, connectors.flags.flagd, "
        "connectors.registry.files, connectors.metrics.workspace, connectors.request_log.workspace"
    )
    assert not {m for m in mods if m.split(".")[0] in ("textual", "console", "screens", "rich")}


def test_console_core_imports_no_textual() -> None:
    mods = loaded_after(
        "import console.cli, console.core.session, console.overview.kpis, console.core.config"
    )
    assert not {m for m in mods if m.split(".")[0] in ("textual", "screens")}


def test_start_path_has_no_heavy_imports() -> None:
    # Everything the console imports before its first frame with KPIs.
    mods = loaded_after(
        "import console.cli, console.commands.ui, console.commands.demo, screens.app, "
        "screens.overview, console.overview.kpis"
    )
    heavy = {"pandas", "numpy", "sqlite_utils", "plotext", "textual_plotext"}
    assert not heavy & {m.split(".")[0] for m in mods}


def test_third_party_connectors_are_discovered(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    fake = EntryPoint("metrics.victoria", "llmdeck_vm:VictoriaMetrics", "llmdeck.connectors")
    real = md.entry_points

    def entry_points(**kw: str) -> object:
        return [fake] if kw.get("group") == "llmdeck.connectors" else real(**kw)

    monkeypatch.setattr(md, "entry_points", entry_points)
    discovery.available.cache_clear()
    try:
        assert "victoria" in discovery.kinds("metrics")
        assert "prometheus" in discovery.kinds("metrics")  # built-ins stay
        with pytest.raises(ImportError):
            discovery.load("metrics", "victoria")  # listed without importing; loads on use
    finally:
        discovery.available.cache_clear()
