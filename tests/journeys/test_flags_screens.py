"""Flags, confirmation and Audit screens with Pilot: snapshots (production
confirmation included), read-only removing the write keys and break-glass,
and the demo journey: roll /support/chat back under live traffic and watch
its refusal rate recover in the workspace."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from console.core.session import Session
from console.demo.live import LiveTraffic
from screens.app import LlmdeckApp
from screens.audit import AuditScreen
from screens.catalog import SCREENS
from screens.flags import FlagsScreen
from screens.modals.confirm import ConfirmScreen, ReasonScreen
from tests.conftest import demo_profile
from tests.journeys import waits

SIZE = (160, 48)
FLAG = "support-answer-rollout"


def _key(mode: str) -> str:
    return str([s.mode for s in SCREENS].index(mode) + 1)


async def settle(pilot: Any) -> None:
    await waits.settle(pilot, rounds=1)
    await pilot.pause()


async def open_flags(pilot: Any) -> FlagsScreen:
    await settle(pilot)
    await pilot.press(_key("flags"))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, FlagsScreen) and screen.rows
    return screen


async def select(pilot: Any, screen: FlagsScreen, key: str) -> None:
    table = screen.query_one("#flags-table")
    table.move_cursor(row=[r.key for r in screen.rows].index(key))  # type: ignore[attr-defined]
    await pilot.pause()


def test_flags_snapshot(snap_compare: Any, demo_session: Session) -> None:
    assert snap_compare(LlmdeckApp(demo_session), terminal_size=SIZE, run_before=open_flags)


def test_production_confirmation_snapshot(
    snap_compare: Any, demo_dir: Path, frozen_clock: Any
) -> None:
    session = Session(demo_profile(demo_dir, "demo-production"), read_only=False)

    async def open_rollback(pilot: Any) -> None:
        screen = await open_flags(pilot)
        await select(pilot, screen, FLAG)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmScreen)

    assert snap_compare(LlmdeckApp(session), terminal_size=SIZE, run_before=open_rollback)


def test_audit_snapshot(snap_compare: Any, demo_session: Session) -> None:
    async def open_audit(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press(_key("audit"))
        await settle(pilot)
        assert isinstance(pilot.app.screen, AuditScreen) and pilot.app.screen.rows

    assert snap_compare(LlmdeckApp(demo_session), terminal_size=SIZE, run_before=open_audit)


async def test_read_only_hides_write_keys_until_break_glass(
    demo_copy: Path, frozen_clock: Any
) -> None:
    session = Session(demo_profile(demo_copy, "demo-production"))
    assert session.read_only
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_flags(pilot)
        shown = {b.binding.action for b in app.active_bindings.values()}
        assert "rollback" not in shown and "toggle_flag" not in shown and "break_glass" in shown
        await select(pilot, screen, FLAG)
        await pilot.press("b", "space", "k")
        await settle(pilot)
        assert app.screen is screen  # nothing offered, nothing planned
        await pilot.press("exclamation_mark")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"INC-42 roll back v14", "enter")
        await settle(pilot)
        assert not session.read_only
        shown = {b.binding.action for b in app.active_bindings.values()}
        assert "rollback" in shown and "break_glass" not in shown
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
    rows = (
        session.store()
        .execute("SELECT action, outcome, reason FROM audit WHERE who != 'deploy-bot' ORDER BY id")
        .fetchall()
    )
    assert rows == [
        ("break_glass", "done", "INC-42 roll back v14"),
        ("rollback_route", "cancelled", ""),
    ]


def _route_stats(db: Path, start_ms: int, end_ms: int) -> tuple[int, int, int]:
    """(requests, refusals, v14 requests) on /support/chat in [start, end)."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(refusal), 0), COALESCE(SUM(prompt_version = '14'), 0) "
            "FROM requests WHERE route = '/support/chat' AND ts >= ? AND ts < ?",
            (start_ms, end_ms),
        ).fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1]), int(row[2])


async def test_demo_journey_roll_back_and_watch_refusals_recover(demo_copy: Path) -> None:
    live = LiveTraffic(
        demo_copy, interval=0.2, rate_scale=150, max_gap=timedelta(minutes=2)
    ).start()
    try:
        session = Session(demo_profile(demo_copy))
        app = LlmdeckApp(session, live=live)
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.time() + 30
            while live.appended < 2000 and time.time() < deadline:
                await pilot.pause(0.2)
            assert live.error is None and live.appended >= 2000
            screen = await open_flags(pilot)  # from the Overview to Flags
            await select(pilot, screen, FLAG)
            await pilot.press("b")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmScreen)
            assert app.screen.plan.steps[0].target == FLAG
            await pilot.press(*"v14 refuses 4x", "enter")
            await settle(pilot)
            rolled_back = int(time.time() * 1000)
            doc = json.loads((demo_copy / "flags.json").read_text())
            assert doc["flags"][FLAG]["targeting"]["fractional"] == [["v13", 100], ["v14", 0]]
            db = demo_copy / "store.db"
            deadline = time.time() + 30
            while time.time() < deadline:
                await pilot.pause(0.5)
                if _route_stats(db, rolled_back, rolled_back + 10**9)[0] >= 400:
                    break
        after = _route_stats(db, rolled_back, rolled_back + 10**9)
        before = _route_stats(db, rolled_back - 60_000, rolled_back)
        assert after[0] >= 400 and before[0] >= 400
        assert after[2] == 0  # no v14 request after the rollback
        assert before[2] > 0
        # v14 refuses ~12%, v13 ~3%: the 50/50 minute sits near 7.5%.
        assert after[1] / after[0] < before[1] / before[0]
        assert after[1] / after[0] < 0.06
    finally:
        live.stop()


async def test_weights_and_kill_switch_keys_go_through_the_pipeline(
    demo_copy: Path, frozen_clock: Any
) -> None:
    session = Session(demo_profile(demo_copy))
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_flags(pilot)
        await select(pilot, screen, FLAG)
        await pilot.press("w")
        await pilot.pause()
        field = app.screen.query_one("#weights-input")
        assert field.value == "v13=50 v14=50"  # type: ignore[attr-defined]
        field.value = "v13=90 v14=10"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.plan.steps[0].after["weights"] == {"v13": 90.0, "v14": 10.0}
        await pilot.click("#confirm-apply")
        await settle(pilot)
        await select(pilot, screen, FLAG)
        await pilot.press("k")  # the kill switch of the selected flag's route
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.plan.steps[0].target == "kill-support-chat"
        await pilot.press("escape")
        await settle(pilot)
    doc = json.loads((demo_copy / "flags.json").read_text())
    assert doc["flags"][FLAG]["targeting"]["fractional"] == [["v13", 90], ["v14", 10]]
    assert doc["flags"]["kill-support-chat"]["state"] == "DISABLED"
    rows = (
        session.store()
        .execute("SELECT action, target, outcome FROM audit WHERE who != 'deploy-bot' ORDER BY id")
        .fetchall()
    )
    assert rows == [
        ("set_weights", FLAG, "done"),
        ("set_enabled", "kill-support-chat", "cancelled"),
    ]


async def test_audit_filter_and_export(demo_copy: Path, frozen_clock: Any) -> None:
    session = Session(demo_profile(demo_copy))
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(_key("audit"))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        total = len(screen.shown)
        await pilot.press("slash", *"deploy-bot canary")
        await pilot.pause()
        assert 0 < len(screen.shown) < total
        assert all("deploy-bot" in r.text() and "canary" in r.text() for r in screen.shown)
        await pilot.press("enter", "e")
        await pilot.pause()
    exported = list(demo_copy.glob("audit-*.jsonl"))
    assert len(exported) == 1
    lines = exported[0].read_text().splitlines()
    assert len(lines) == len(screen.shown)
    assert all(json.loads(line)["who"] == "deploy-bot" for line in lines)
