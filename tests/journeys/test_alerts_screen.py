"""The alert banner and the Alerts screen on the demo (Pilot): the incident is
on the first screen without a key, its suspect is the v14 rollout, and one key
goes from the suspect to its diff and one to a planned rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from console.core.session import Session
from screens.alerts import AlertsScreen
from screens.app import LlmdeckApp
from screens.catalog import SCREENS
from screens.diff import DiffScreen
from screens.modals.confirm import ConfirmScreen
from screens.widgets.alert_banner import AlertBanner
from tests.conftest import demo_profile
from tests.journeys import waits

SIZE = (160, 48)
ALERTS_KEY = str([s.mode for s in SCREENS].index("alerts") + 1)


def _banner(pilot: Any) -> str:
    return str(pilot.app.screen.query_one(AlertBanner).render())


async def open_alerts(pilot: Any) -> AlertsScreen:
    await waits.settle(pilot)
    await pilot.press(ALERTS_KEY)
    await waits.wait_until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, AlertsScreen)
            and pilot.app.screen.shown
            and pilot.app.screen.shown[0].key in pilot.app.screen.suspects
        ),
        "the Alerts screen with its suspects",
    )
    await waits.wait_until(pilot, lambda: waits.table_ready(pilot), "the alerts table laid out")
    screen = pilot.app.screen
    assert isinstance(screen, AlertsScreen)
    return screen


async def test_the_first_screen_says_what_pages_and_why(demo_session: Session) -> None:
    async with LlmdeckApp(demo_session).run_test(size=SIZE) as pilot:
        await waits.wait_until(pilot, lambda: "suspect:" in _banner(pilot), "the suspect")
        text = _banner(pilot)
        assert "3 FIRING (1 page)" in text  # the page and two drift tickets
        assert "PAGE: refusals burning" in text and "/support/chat (support-answer v14)" in text
        assert "suspect: v14 rollout" in text and "explains" in text
        # The refusal card is red for the page, the error card is not.
        cards = {c.id: c for c in pilot.app.screen.query(".kpi-card")}
        assert "-bad" in cards["kpi-refusal_rate"].classes
        assert "-bad" not in cards["kpi-error_rate"].classes


async def test_from_the_suspect_to_its_diff_and_a_planned_rollback(
    demo_copy: Path, frozen_clock: Any
) -> None:
    # A copy: the cancelled rollback is audited, and the shared demo stays clean.
    session = Session(demo_profile(demo_copy))
    async with LlmdeckApp(session).run_test(size=SIZE) as pilot:
        screen = await open_alerts(pilot)
        top = screen.suspects[screen.shown[0].key][0]
        assert top.diff == ("prompt", "support-answer", "13", "14")
        await pilot.press("d")
        await waits.wait_until(pilot, lambda: isinstance(pilot.app.screen, DiffScreen), "Diff")
        target = pilot.app.screen.target  # type: ignore[attr-defined]
        assert (target.name, target.a, target.b) == ("support-answer", "13", "14")
        await pilot.press("escape")
        await waits.wait_until(pilot, lambda: isinstance(pilot.app.screen, AlertsScreen), "back")
        await pilot.press("b")
        await waits.wait_until(
            pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the confirmation"
        )
        plan = pilot.app.screen.plan  # type: ignore[attr-defined]
        assert plan.action == "set_weights" and plan.target == "support-answer-rollout"
        assert plan.steps[0].after["weights"] == {"v13": 100.0, "v14": 0.0}
        await pilot.press("escape")  # cancelled: audited, nothing written
        await waits.settle(pilot)
    rows = (
        session.store()
        .execute("SELECT action, outcome FROM audit WHERE who != 'deploy-bot' ORDER BY id")
        .fetchall()
    )
    assert rows == [("set_weights", "cancelled")]


def test_alerts_snapshot(snap_compare: Any, demo_session: Session) -> None:
    assert snap_compare(LlmdeckApp(demo_session), terminal_size=SIZE, run_before=open_alerts)
