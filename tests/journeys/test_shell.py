"""The app shell on a demo workspace: header, keys, palette, help, live KPIs."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from textual.command import CommandPalette
from textual.widgets import Static

from console.core.session import Session
from console.demo.live import LiveTraffic
from screens.app import LlmdeckApp
from screens.modals.help import HelpScreen
from tests.conftest import FIXED_NOW, demo_profile
from tests.journeys import waits

SIZE = (160, 48)


async def settle(pilot: Any) -> None:
    await waits.settle(pilot, rounds=1)
    await pilot.pause()


def test_overview_snapshot(snap_compare: Any, demo_session: Session) -> None:
    assert snap_compare(LlmdeckApp(demo_session), terminal_size=SIZE, run_before=settle)


def test_help_snapshot(snap_compare: Any, demo_session: Session) -> None:
    async def open_help(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(LlmdeckApp(demo_session), terminal_size=SIZE, run_before=open_help)


def test_production_header_snapshot(snap_compare: Any, demo_dir: Path, frozen_clock: Any) -> None:
    session = Session(demo_profile(demo_dir, "demo-production"))
    assert session.read_only  # production profiles are read-only by default
    assert snap_compare(LlmdeckApp(session), terminal_size=SIZE, run_before=settle)


async def test_palette_and_help_keys(demo_session: Session) -> None:
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = [row[0] for row in app.screen.keys]
        assert "t" in keys and "q" in keys and "1" in keys
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_live_kpis_change(demo_copy: Path) -> None:
    """With live traffic appending, the KPI strip shows new figures on its own."""
    session = Session(
        demo_profile(demo_copy).__class__(
            **{**demo_profile(demo_copy).__dict__, "refresh_seconds": 0.3}
        )
    )
    live = LiveTraffic(
        demo_copy, interval=0.2, rate_scale=20.0, max_gap=timedelta(seconds=30)
    ).start()
    app = LlmdeckApp(session, live=live)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            status = app.screen.query_one("#kpi-status", Static)
            seen: set[str] = set()
            for _ in range(60):
                await pilot.pause(0.25)
                found = re.search(r"([\d,]+) requests", str(status.render()))
                if found:
                    seen.add(found.group(1))
                if len(seen) >= 3:
                    break
            assert len(seen) >= 3, seen  # the request count moved at least twice
            assert app.screen.kpi_poller.refreshes >= 3  # type: ignore[attr-defined]
    finally:
        live.stop()
    assert live.error is None and live.appended > 0
    conn = sqlite3.connect(demo_copy / "store.db")
    after = conn.execute(
        "SELECT COUNT(*) FROM requests WHERE ts > ?", (int(FIXED_NOW.timestamp() * 1000),)
    ).fetchone()[0]
    assert after == live.appended


async def test_worker_error_becomes_a_notification(demo_session: Session) -> None:
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def boom() -> None:
            raise RuntimeError("backend exploded\nsecond line never shown")

        app.run_worker(boom, thread=True, exit_on_error=False, name="boom")
        await waits.wait_until(pilot, lambda: bool(app._notifications), "the notification")
        messages = [n.message for n in app._notifications]
        assert "backend exploded" in messages
        assert app.is_running  # no crash


async def test_failing_metrics_marks_the_strip_stale(tmp_path: Path, frozen_clock: Any) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text("profiles:\n  a:\n    metrics: {kind: workspace, path: missing/store.db}\n")
    from console.core.config import load_config

    app = LlmdeckApp(Session(load_config(cfg).profile()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        status = str(app.screen.query_one("#kpi-status", Static).render())
        assert status.startswith("stale since 12:00:00:"), status
        assert "no workspace store here" in status
        assert not app._notifications  # the panel says it; no popup every refresh


async def test_below_80x24_says_too_small_and_recovers(demo_session: Session) -> None:
    """Defect 9: below the stated minimum one clear sentence, not a broken layout."""
    from textual.geometry import Size

    from screens.widgets.too_small import TooSmallScreen

    app = LlmdeckApp(demo_session)
    async with app.run_test(size=(40, 10)) as pilot:
        await waits.wait_until(pilot, lambda: isinstance(app.screen, TooSmallScreen), "the message")
        message = str(app.screen.query_one("#too-small", Static).render())
        assert message.startswith("terminal too small (need 80x24, have 40x10)")
        await pilot.press("3")  # would switch to a screen that cannot fit: ignored
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(100, 30)
        await waits.wait_until(pilot, lambda: not isinstance(app.screen, TooSmallScreen), "resize")
        assert app.has_class("-compact")  # 100x30: the compact layout
        assert app.screen.query_one("#kpi-status", Static)  # the Overview is back
        assert Size(100, 30) == app.size
