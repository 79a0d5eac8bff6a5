"""The Drift screen: the incident on top, the grouping key, and the actions
that open the diff and the requests of a row."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from console.core.session import Session
from screens.app import LlmdeckApp
from screens.drift import DriftScreen
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
