"""From the Overview and the Requests table, one key to the diff or the requests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from connectors.workspace.schema import connect
from console.core.session import Session
from console.diff.view import newest_in_traffic
from screens.app import LlmdeckApp
from screens.diff import DiffScreen
from screens.requests import RequestsScreen
from tests.conftest import FIXED_NOW, demo_profile
from tests.journeys import waits

SIZE = (160, 48)


def test_newest_version_in_traffic(demo_dir: Path) -> None:
    conn = connect(demo_dir / "store.db", create=False)
    # The canary (v14, three hours old) is the newest version serving in any window.
    assert newest_in_traffic(conn, FIXED_NOW - timedelta(hours=1), FIXED_NOW) == "support-answer@14"
    assert newest_in_traffic(conn, FIXED_NOW - timedelta(days=7), FIXED_NOW) == "support-answer@14"
    # In the hour before ticket-summary v3 (4 days before the end), support-answer v12
    # (5 days) was the newest.
    four_days = FIXED_NOW - timedelta(days=4)
    assert newest_in_traffic(conn, four_days - timedelta(hours=1), four_days) == "support-answer@12"
    assert (
        newest_in_traffic(conn, FIXED_NOW + timedelta(days=30), FIXED_NOW + timedelta(days=31))
        is None
    )


async def test_overview_d_and_l_and_requests_d(demo_copy: Path, frozen_clock: Any) -> None:
    app = LlmdeckApp(Session(demo_profile(demo_copy)))
    async with app.run_test(size=SIZE) as pilot:
        await waits.settle(pilot, rounds=1)
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen)
        assert app.screen.target is not None
        assert (app.screen.target.name, app.screen.target.a) == ("support-answer", "14")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("l")
        await waits.wait_until(
            pilot,
            lambda: isinstance(app.screen, RequestsScreen) and app.screen.filter.since is not None,
            "the Requests screen with the Overview's range",
        )
        assert isinstance(app.screen, RequestsScreen)
        assert app.screen.filter.until == FIXED_NOW
        assert app.screen.filter.since == FIXED_NOW - timedelta(hours=1)
        await waits.settle(pilot, rounds=1)
        await pilot.pause()
        await pilot.press("d")  # the selected request's prompt version against its predecessor
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen)
