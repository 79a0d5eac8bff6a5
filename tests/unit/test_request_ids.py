"""Request ids: shown whole, copyable whole, and accepted by any unique prefix
(like git) in ``llmdeck request``, ``replay``, ``policy check`` and the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from connectors.errors import AmbiguousId, NotFound
from connectors.request_log.workspace import WorkspaceRequestLog
from console.core.session import Session
from screens.request_detail import RequestDetailScreen
from screens.requests import RequestsScreen
from tests.journeys.test_requests_screen import SIZE, RequestsApp, settle
from tests.unit.test_cli import llmdeck


def _ids(session: Session) -> list[str]:
    conn = session.store()
    return [str(r[0]) for r in conn.execute("SELECT request_id FROM requests ORDER BY 1")]


def _unique_prefix(ids: list[str], i: int = 100) -> str:
    """The shortest prefix of ids[i] that no other id shares."""
    rid = ids[i]
    n = next(
        n for n in range(5, len(rid))
        if not ids[i - 1].startswith(rid[:n]) and not ids[i + 1].startswith(rid[:n])
    )  # fmt: skip
    return rid[:n]


def test_any_unique_prefix_finds_the_request(demo_session: Session) -> None:
    log = demo_session.request_log()
    assert isinstance(log, WorkspaceRequestLog)
    ids = _ids(demo_session)
    prefix = _unique_prefix(ids)
    assert log.get(prefix).request_id == ids[100]
    assert log.get(ids[100]).request_id == ids[100]
    with pytest.raises(AmbiguousId) as ambiguous:
        log.get("req_0")
    assert len(ambiguous.value.candidates) == 5
    assert all(c.startswith("req_0") for c in ambiguous.value.candidates)
    assert "is ambiguous: req_0" in str(ambiguous.value) and ", …" in str(ambiguous.value)
    with pytest.raises(NotFound, match="not in the workspace"):
        log.get("req_zzz")
    with pytest.raises(NotFound):  # "_" is not a wildcard, as it would be in LIKE
        log.get(ids[100][:3] + "_")


def test_the_cli_takes_prefixes(demo_dir: Path, demo_session: Session) -> None:
    cfg = str(demo_dir / "llmdeck.yaml")
    ids = _ids(demo_session)
    prefix = _unique_prefix(ids)
    shown = llmdeck("request", prefix, "--json", "--config", cfg)
    assert shown.returncode == 0 and f'"request_id": "{ids[100]}"' in shown.stdout, shown.stderr
    checked = llmdeck("policy", "check", prefix, "--json", "--config", cfg)
    assert checked.returncode in (0, 1) and ids[100] in checked.stdout, checked.stderr
    # replay resolves the prefix before it sends anything: an ambiguous one is refused.
    for args in (("request",), ("replay",), ("policy", "check")):
        proc = llmdeck(*args, "req_0", "--config", cfg)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("llmdeck: request id prefix 'req_0' is ambiguous: req_0"), last


async def test_the_table_shows_ids_whole_and_copies_them(demo_session: Session) -> None:
    app = RequestsApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RequestsScreen)
        table: DataTable[Any] = screen.query_one(DataTable)
        columns = list(table.columns.values())
        assert str(columns[1].label) == "request id"
        rec = screen.selected()
        assert rec is not None and table.get_cell_at(Coordinate(0, 1)) == rec.request_id
        # The column ends inside the screen, so no id is cut at its edge.
        right = sum(c.get_render_width(table) for c in columns[:2])
        assert columns[1].content_width >= len(rec.request_id) and right <= SIZE[0]
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == rec.request_id


async def test_the_quick_filter_opens_an_id_prefix(demo_session: Session) -> None:
    ids = _ids(demo_session)
    app = RequestsApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash")
        screen.query_one("#requests-quick").value = "id:req_0"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        status = str(screen.query_one("#requests-status").render())
        assert "is ambiguous: req_0" in status
        await pilot.press("slash")
        screen.query_one("#requests-quick").value = f"id:{_unique_prefix(ids)}"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen)
        assert app.screen.record.request_id == ids[100]
