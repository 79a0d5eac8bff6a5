"""Demo polish: a profile a person would write (no YAML anchors), tenants by
name on every screen and in every filter, progress while the workspace is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from connectors.records import RequestRecord
from console.core.config import load_config
from console.core.session import Session
from console.core.tenants import names, stored
from console.demo.world import TENANTS, hashed
from console.requests.detail import text_lines
from console.requests.query import parse_quick
from screens.requests import RequestsScreen
from tests.journeys.test_requests_screen import SIZE, RequestsApp, settle
from tests.unit.test_cli import llmdeck


def test_the_profile_has_no_anchors_and_names_tenants(demo_dir: Path) -> None:
    text = (demo_dir / "llmdeck.yaml").read_text()
    assert "&id" not in text and "*id" not in text
    assert text.startswith("# llmdeck demo workspace")
    doc = yaml.safe_load(text)
    for profile in doc["profiles"].values():
        assert profile["tenants"] == {hashed("tenant", t): t for t, _ in TENANTS}
        assert set(profile["budgets"]) == {t for t, _ in TENANTS}  # budgets by name
    profile = load_config(demo_dir / "llmdeck.yaml").profile("demo")
    assert names(profile)[hashed("tenant", "acme")] == "acme"


def test_filters_take_display_names() -> None:
    # A name that the map knows wins over hashing it (real logs hash with their own salt).
    tenants = {"t-0123456789ab": "acme"}
    assert parse_quick("tenant:acme", tenants=tenants).tenant == "t-0123456789ab"
    assert stored(tenants, "t-0123456789ab") == "t-0123456789ab"
    assert stored(tenants, "globex") == hashed("tenant", "globex")


def test_the_cli_shows_and_filters_by_name(demo_dir: Path) -> None:
    cfg = str(demo_dir / "llmdeck.yaml")
    proc = llmdeck("requests", "--tenant", "acme", "--limit", "3", "--config", cfg)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 3, proc.stderr
    assert all(" acme " in line for line in proc.stdout.splitlines())
    rid = proc.stdout.split()[2]
    shown = llmdeck("request", rid, "--config", cfg)
    assert f"tenant        acme ({hashed('tenant', 'acme')})" in shown.stdout


def test_the_detail_text_names_the_tenant() -> None:
    from datetime import UTC, datetime

    rec = RequestRecord("r", datetime(2026, 1, 1, tzinfo=UTC), tenant="t-0123456789ab")
    lines = text_lines(rec, {"t-0123456789ab": "acme"})
    assert any(line.startswith("tenant        acme (t-0123456789ab)") for line in lines)


async def test_the_requests_table_shows_names(demo_session: Session) -> None:
    app = RequestsApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RequestsScreen)
        table: DataTable[Any] = screen.query_one(DataTable)
        column = [str(c.label) for c in table.columns.values()].index("tenant")
        shown = {table.get_cell_at(Coordinate(i, column)) for i in range(table.row_count)}
        assert shown and shown <= {t for t, _ in TENANTS}


def test_creation_shows_progress(tmp_path: Path) -> None:
    """Not a terminal (CI, a pipe): a line per quarter and per step, with seconds."""
    proc = llmdeck("demo", "--no-ui", "--dir", str(tmp_path / "ws"), timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("llmdeck: creating the demo workspace in")
    assert sum("generated" in line and "requests" in line for line in lines) == 4
    assert any("analysing the indexes" in line for line in lines)
    assert lines[-1].startswith("llmdeck: ") and " s" in lines[-1]


def test_the_filter_line_names_the_tenant() -> None:
    from console.requests.query import describe

    tenants = {"t-0123456789ab": "acme"}
    flt = parse_quick("tenant:acme v:14", tenants=tenants)
    assert describe(flt, tenants) == "tenant:acme version:14"
    assert parse_quick(describe(flt, tenants), tenants=tenants) == flt  # reads back
