"""Look back in the console: ``[`` pins the view one range back, ``]`` steps
forward, ``L`` returns to live; every screen follows the session's view time,
the header says so, the pollers stop while pinned, and writes are refused.

The demo's canary (support-answer v14, refusing about four times as often)
went out at 09:00; the clock is frozen at 12:00 (FIXED_NOW).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from textual.widgets import Static

from console.core.session import Session
from console.core.spans import RANGES
from console.overview import kpis
from screens.app import LlmdeckApp
from screens.modals import ConfirmScreen
from screens.widgets.deck_header import DeckHeader
from tests.conftest import FIXED_NOW, demo_profile
from tests.journeys import waits

SIZE = (160, 48)
CANARY = FIXED_NOW - timedelta(hours=3)


def header(app: LlmdeckApp) -> str:
    return str(app.screen.query_one(DeckHeader).render())


def caption(app: LlmdeckApp) -> str:
    return str(app.screen.query_one("#kpi-status", Static).render())


def card(app: LlmdeckApp, key: str) -> str:
    """The figure a KPI card shows ("4.6%")."""
    return str(app.screen.query_one(f"#kpi-{key} .kpi-value", Static).render())


def cards_of(session: Session) -> dict[str, str]:
    """What the strip must show for ``session``'s view, computed without the screen."""
    return {c.key: c.text for c in kpis.cards(kpis.load_frame(session, RANGES["1h"]))}


def offered(app: LlmdeckApp) -> dict[str, str]:
    """Key -> description of the keys the footer shows now."""
    return {
        b.binding.key_display or b.binding.key: b.binding.description
        for b in app.active_bindings.values()
        if b.enabled and b.binding.show
    }


async def test_step_back_forward_and_live(demo_dir: Path, frozen_clock: Any) -> None:
    session = Session(demo_profile(demo_dir))
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen: Any = app.screen
        await waits.wait_until(pilot, lambda: "updated 12:00:00" in caption(app), "the live KPIs")
        live = card(app, "refusal_rate")
        figures = ("requests_per_min", "cost_per_hour", "refusal_rate", "latency_p95_ms")
        live_cards = {key: card(app, key) for key in figures}
        assert live == cards_of(session)["refusal_rate"] and "AT " not in header(app)
        keys = offered(app)
        assert keys["["] == "Earlier" and keys["]"] == "Later" and "L" not in keys

        await pilot.press("left_square_bracket")
        await waits.wait_until(
            pilot, lambda: "11-29 10:00-11:00 UTC" in caption(app), "the KPIs one range back"
        )
        assert "AT 2026-11-29 11:00 UTC (pinned)" in header(app)
        assert app.screen.query_one(DeckHeader).has_class("-pinned")
        assert "updated" not in caption(app)
        assert offered(app)["L"] == "Live"
        # The figures are the past's: those of a session pinned there, not now's.
        then = Session(demo_profile(demo_dir), at=FIXED_NOW - timedelta(hours=1))
        try:
            want = cards_of(then)
        finally:
            then.close()
        for key in figures:
            assert card(app, key) == want[key], key
        assert {key: card(app, key) for key in figures} != live_cards
        # Pinned, nothing changes: no poller is armed to refresh by itself.
        await waits.settle(pilot)
        assert screen.kpi_poller._timer is None
        assert screen.charts_poller is None or screen.charts_poller._timer is None

        # Two more steps: the hour before the canary, refusals back to v13's.
        await pilot.press("left_square_bracket", "left_square_bracket")
        await waits.wait_until(
            pilot, lambda: "11-29 08:00-09:00 UTC" in caption(app), "the hour before 09:00"
        )
        assert "AT 2026-11-29 09:00 UTC (pinned)" in header(app)
        before = float(card(app, "refusal_rate").rstrip("%"))
        assert before < 0.6 * float(live.rstrip("%"))

        await pilot.press("right_square_bracket")
        await waits.wait_until(pilot, lambda: "11-29 09:00-10:00 UTC" in caption(app), "forward")
        assert "AT 2026-11-29 10:00 UTC (pinned)" in header(app)

        # Another screen follows the same view, and refuses writes from it.
        await pilot.press("6")
        await waits.wait_until(pilot, lambda: waits.table_ready(pilot), "the flags")
        assert "AT 2026-11-29 10:00 UTC (pinned)" in header(app)
        await pilot.press("space")
        await waits.settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("writes happen now" in n.message for n in app._notifications)

        await pilot.press("L")  # live again, from any screen
        await waits.settle(pilot)
        assert "AT " not in header(app) and not session.view.pinned
        await pilot.press("1")
        await waits.wait_until(pilot, lambda: "updated 12:00:00" in caption(app), "live again")
        assert "AT " not in header(app)
        assert card(app, "refusal_rate") == live
        await waits.settle(pilot)
        assert screen.kpi_poller._timer is not None  # refreshing by itself again
        assert "L" not in offered(app)
    session.close()


async def test_opened_pinned_with_at(demo_dir: Path, frozen_clock: Any) -> None:
    """``llmdeck --at`` opens every screen pinned; Requests lists nothing after it,
    and its windows (the Overview's, its own range) step with the view."""
    session = Session(demo_profile(demo_dir), at=CANARY)
    app = LlmdeckApp(session)
    hour = timedelta(hours=1)

    def requests_between(since: Any, until: Any) -> bool:
        screen: Any = app.screen
        flt = screen.filter
        return (flt.since, flt.until) == (since, until) and waits.table_ready(pilot)

    def records() -> list[Any]:
        return list(app.screen.records.values())  # type: ignore[attr-defined]

    async with app.run_test(size=SIZE) as pilot:
        await waits.wait_until(pilot, lambda: "08:00-09:00 UTC" in caption(app), "pinned KPIs")
        assert "AT 2026-11-29 09:00 UTC (pinned)" in header(app)
        await pilot.press("l")  # the requests behind the pinned hour
        await waits.wait_until(
            pilot, lambda: requests_between(CANARY - hour, CANARY), "the pinned hour's requests"
        )
        assert "AT 2026-11-29 09:00 UTC (pinned)" in header(app)
        assert all(CANARY - hour <= r.ts < CANARY for r in records())
        assert max(r.ts for r in records()) > CANARY - timedelta(minutes=2)
        # [ moves that window with the view: the hour before it.
        await pilot.press("left_square_bracket")
        await waits.wait_until(
            pilot, lambda: requests_between(CANARY - 2 * hour, CANARY - hour), "an hour earlier"
        )
        assert all(r.ts < CANARY - hour for r in records())
        await pilot.press("right_square_bracket")
        await waits.wait_until(pilot, lambda: requests_between(CANARY - hour, CANARY), "back")
        # t: the 15 minutes before the pinned moment, not before now.
        quarter = timedelta(minutes=15)
        await pilot.press("t")
        await waits.wait_until(pilot, lambda: requests_between(CANARY - quarter, None), "15m")
        assert all(CANARY - quarter <= r.ts < CANARY for r in records())
        # [ on Requests steps by its range, and the list follows.
        await pilot.press("left_square_bracket")
        await waits.wait_until(
            pilot, lambda: requests_between(CANARY - 2 * quarter, None), "15 minutes earlier"
        )
        assert records() and all(CANARY - 2 * quarter <= r.ts < CANARY - quarter for r in records())
        assert "AT 2026-11-29 08:45 UTC (pinned)" in header(app)
    session.close()
