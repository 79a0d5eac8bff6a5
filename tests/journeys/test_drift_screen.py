"""The Drift screen: the incident on top, the grouping key, and the actions
that open the diff and the requests of a row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from textual.widgets import DataTable, Static

from console.core import clock
from console.core.session import Session
from screens.app import LlmdeckApp
from screens.drift import DriftScreen
from tests.conftest import FIXED_NOW
from tests.journeys import waits

SIZE = (160, 48)


async def settle(pilot: Any) -> None:
    for _ in range(3):
        await waits.settle(pilot, rounds=1)
        await pilot.pause()


async def test_drift_rows_grouping_and_open_actions(demo_session: Session) -> None:
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.switch_mode("drift")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DriftScreen) and screen.report is not None
        table = screen.query_one(DataTable)
        assert table.row_count == len(screen.report.rows) > 0
        top = screen.report.rows[0]
        assert (top.group, top.status) == ("support-answer@14", "alert")
        # chart of the selected row: the version and its prompt's all versions
        from screens.widgets.charts import Chart

        chart = screen.query_one("#drift-chart", Chart)
        labels = [label for label, _ in chart.query_one("CachedPlot")._spec_lines]  # type: ignore[attr-defined]
        assert labels == ["support-answer@14", "support-answer@* (all)"]
        # g first (while Drift is shown), then d and enter hand the row over
        await pilot.press("g")
        await settle(pilot)
        assert screen.report.group_by == "model"
        assert all("@" not in r.group for r in screen.report.rows)
        for _ in range(3):
            await pilot.press("g")
        await settle(pilot)
        assert screen.report.group_by == "prompt_version"
        table.move_cursor(row=0)
        await pilot.press("d")  # the diff of v14 against its predecessor (issue 4's screen)
        await settle(pilot)
        from screens.diff import DiffScreen

        assert isinstance(app.screen, DiffScreen)
        target = app.screen.target  # type: ignore[attr-defined]
        assert (target.name, target.a) == ("support-answer", "14")
        app.pop_screen()
        await settle(pilot)
        screen.action_open_requests()  # what enter does on a row (issue 5's screen)
        await settle(pilot)
        assert app.current_mode == "requests"
        flt = app.screen.filter  # type: ignore[attr-defined]
        assert (flt.prompt_id, flt.prompt_version) == ("support-answer", "14")


async def _until(pilot: Any, done: Any, seconds: float = 5.0) -> bool:
    """Wait for a condition (not for a time): True once ``done()`` holds."""
    for _ in range(int(seconds / 0.05)):
        if done():
            return True
        await pilot.pause(0.05)
    return bool(done())


async def test_drift_window_follows_the_clock(demo_session: Session) -> None:
    """Issue 17 defect 7: the window stayed at 19:10-20:10 at 20:27."""
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.switch_mode("drift")
        screen = app.screen
        assert isinstance(screen, DriftScreen)
        # Conditions, not settle(): the chart's exclusive worker is often cancelled
        # by the next one, and wait_for_complete raises on a cancelled worker.
        assert await _until(pilot, lambda: screen.report is not None, 30)
        assert screen.report is not None
        assert screen.report.current == (FIXED_NOW - timedelta(hours=1), FIXED_NOW)
        status = screen.query_one("#drift-status", Static)
        # Shown: the poller's ticks move the window with the console clock.
        screen.poller.interval = 0.1  # the test waits for ticks, not for 30 s
        screen.poller.refresh_now()
        clock.freeze(FIXED_NOW + timedelta(minutes=17))
        assert await _until(pilot, lambda: screen.report.current[1] == clock.now(), 60)
        assert "current 11-29 11:17-12:17" in str(status.render())
        # Covered by another screen while the clock moves on: shown again, it
        # loads at once instead of showing the old window until the next tick.
        # Ten minutes: no tick comes while the test waits, only the resume can load.
        screen.poller.interval = 600
        await app.switch_mode("overview")
        await pilot.pause()
        clock.freeze(FIXED_NOW + timedelta(minutes=40))
        await app.switch_mode("drift")
        assert await _until(pilot, lambda: screen.report.current[1] == clock.now(), 60)
        assert await _until(pilot, lambda: "current 11-29 11:40-12:40" in str(status.render()))
