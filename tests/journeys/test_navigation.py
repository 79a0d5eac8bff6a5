"""Going from screen to screen as an on-call engineer does (issue 17, defects 1
and 8): every screen shown is painted whole, number keys land on the screen
they name, ``esc`` goes back and never to a blank screen, ``ctrl+p`` opens the
palette, ``/`` filters every table, ``!`` only where break-glass works.

The tmux harness (tests/journeys, real terminal) should repeat the first
three: press ``3`` from the Overview and wait for the Requests header text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable, Input

from console.core.session import Session
from screens.app import LlmdeckApp
from screens.catalog import SCREENS
from tests.conftest import demo_profile

SIZE = (160, 48)


async def settle(pilot: Any) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def test_a_screen_shown_later_is_painted_whole(demo_session: Session) -> None:
    """Defect 1: only the first screen got a size from Textual; Requests kept
    0x0, its frame was dropped and the Overview's stayed on the terminal."""
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, mode in (("3", "requests"), ("2", "drift"), ("3", "requests"), ("1", "overview")):
            await pilot.press(key)
            await settle(pilot)
            assert app.current_mode == mode
            assert app.screen.outer_size == app.size, f"{mode} was never sized"
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#requests-table", DataTable)
        await pilot.press("enter")  # a request detail, pushed over Requests
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestDetailScreen"
        assert app.screen.outer_size == app.size
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.query_one("#requests-table", DataTable) is table
        assert app.screen.outer_size == app.size


async def test_number_keys_never_show_a_stale_detail(demo_session: Session) -> None:
    """Defect 1: a detail opened on an earlier visit came back with Drift's enter."""
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestDetailScreen"
        await pilot.press("2")  # leave with the detail still open
        await settle(pilot)
        app.screen.action_open_requests()  # what Drift's enter does
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestsScreen"
        await pilot.press("escape")  # back to Drift, not a blank screen
        await settle(pilot)
        assert app.current_mode == "drift"
        assert type(app.screen).__name__ == "DriftScreen"


async def test_escape_on_a_top_level_screen_goes_back(demo_session: Session) -> None:
    """Defect 8: k9s habit, esc returns to the screen before."""
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")  # Flags
        await settle(pilot)
        await pilot.press("7")  # Audit
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.current_mode == "flags"
        await pilot.press("escape")
        await settle(pilot)
        assert app.current_mode == "audit"  # back and forth, like cd -
        for _ in range(3):
            await pilot.press("escape")
            await settle(pilot)
            assert len(app.screen_stack) >= 1 and app.screen.is_current


async def test_ctrl_p_opens_the_palette(demo_session: Session) -> None:
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)


@pytest.mark.parametrize("mode", ["requests", "audit", "flags", "registry", "drift", "replays"])
async def test_slash_filters_every_table(demo_copy: Path, frozen_clock: Any, mode: str) -> None:
    """Defect 8: ``/`` opened a filter on Requests and Audit only. On a private
    copy: visiting Registry snapshots the models' aliases into the workspace."""
    session = Session(demo_profile(demo_copy))
    try:
        app = LlmdeckApp(session)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.switch_mode(mode)
            await settle(pilot)
            assert mode in {s.mode for s in SCREENS}
            await pilot.press("slash")
            await pilot.pause()
            focused = app.screen.focused
            assert isinstance(focused, Input), f"/ on {mode} focused {focused!r}"
            assert focused.id in ("requests-quick", "audit-filter") or focused.has_class(
                "table-filter"
            ), f"/ on {mode} focused {focused!r}"
    finally:
        session.close()


async def test_break_glass_not_offered_when_it_cannot_work(demo_dir: Any) -> None:
    """Defect 8: a forced read-only session (--read-only) cannot break glass,
    so neither the footer, the help nor the status line may offer ``!``."""
    session = Session(demo_profile(demo_dir, "demo-production"), read_only=True)
    assert session.forced_read_only
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.switch_mode("flags")
        await settle(pilot)
        assert "break_glass" not in {b.binding.action for b in app.active_bindings.values()}
        status = str(app.screen.query_one("#flags-status").render())
        assert "break glass" not in status
        await pilot.press("question_mark")
        await pilot.pause()
        assert "!" not in [key for key, _ in app.screen.keys]  # type: ignore[attr-defined]
