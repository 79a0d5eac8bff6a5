"""The incident keys in the console: ``I`` opens an incident from any screen,
the header marks it, ``n`` adds a note, and both are in ``llmdeck incident
export``. On the small workspace of tests/incident_world.py, clock frozen."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Select

from console.core.session import Session
from screens.app import LlmdeckApp
from screens.modals.incident import NoteScreen, OpenIncidentScreen
from screens.widgets.deck_header import DeckHeader
from tests import incident_world as world
from tests.journeys import waits
from tests.unit.test_cli import llmdeck

SIZE = (120, 36)
FROZEN = {"LLMDECK_FROZEN_TIME": "2026-11-29T12:00:00Z"}


@pytest.fixture
def ws(tmp_path: Path, frozen_clock: datetime) -> Iterator[Path]:
    world.build(tmp_path / "ws")
    yield tmp_path / "ws"


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*("space" if c == " " else c for c in text))


def header_text(app: LlmdeckApp) -> str:
    return str(app.screen.query_one(DeckHeader).render())


def stored(ws: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(ws / "store.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_open_an_incident_add_a_note_and_find_both_in_the_export(ws: Path) -> None:
    app = LlmdeckApp(world.session(ws))
    async with app.run_test(size=SIZE) as pilot:
        await waits.settle(pilot)
        keys = {b.binding.key: b.binding.description for b in app.active_bindings.values()}
        assert keys.get("I") == "Incident" and keys.get("n") == "Note"  # in the footer
        assert "INC-" not in header_text(app)

        await pilot.press("I")
        await waits.wait_until(
            pilot, lambda: isinstance(app.screen, OpenIncidentScreen), "the incident dialog"
        )
        await type_text(pilot, "Refusals up on support chat")
        await pilot.press("tab", "enter")  # the severity list: sev2 is chosen, one up is sev1
        await waits.wait_until(pilot, lambda: app.screen.query_one(Select).expanded, "the list")
        await pilot.press("up", "enter")
        await waits.wait_until(
            pilot, lambda: app.screen.query_one(Select).value == "sev1", "sev1 chosen"
        )
        await pilot.press("shift+tab", "enter")
        await waits.wait_until(pilot, lambda: app.open_incident is not None, "the incident")
        assert stored(ws, "SELECT id, title, severity, who, closed FROM incidents") == [
            (1, "Refusals up on support chat", "sev1", "alice", None)
        ]
        await waits.wait_until(pilot, lambda: "INC-1 open" in header_text(app), "the marker")

        await pilot.press("n")
        await waits.wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), "the note box")
        await type_text(pilot, "canary v14 suspected")
        await pilot.press("enter")
        await waits.wait_until(
            pilot, lambda: bool(stored(ws, "SELECT text FROM incident_notes")), "the note"
        )
        assert stored(ws, "SELECT incident_id, who, text FROM incident_notes") == [
            (1, "alice", "canary v14 suspected")
        ]

        # Another screen, shown for the first time, marks the incident too.
        await pilot.press("2")
        await waits.wait_until(pilot, lambda: "INC-1 open" in header_text(app), "Drift's marker")

    proc = llmdeck("incident", "export", "1", "--format", "md",
                   "--config", str(ws / "llmdeck.yaml"), env=FROZEN)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# Incident 1: Refusals up on support chat\n")
    assert "| Severity | sev1 |" in proc.stdout
    assert "| note | canary v14 suspected | alice |" in proc.stdout


async def test_n_without_an_open_incident_says_so(ws: Path) -> None:
    app = LlmdeckApp(world.session(ws))
    async with app.run_test(size=SIZE) as pilot:
        await waits.settle(pilot)
        await pilot.press("n")
        await waits.wait_until(
            pilot,
            lambda: any("press I to open one" in n.message for n in app._notifications),
            "the notification",
        )
        assert not isinstance(app.screen, NoteScreen)


async def test_an_incident_opened_elsewhere_is_found(ws: Path) -> None:
    """Opened by the CLI: the console marks it on start and ``n`` writes to it."""
    proc = llmdeck("incident", "open", "--title", "from the CLI", "--severity", "sev3",
                   "--config", str(ws / "llmdeck.yaml"), env=FROZEN)  # fmt: skip
    assert proc.stdout == "1\n", proc.stderr
    app = LlmdeckApp(world.session(ws))
    async with app.run_test(size=SIZE) as pilot:
        await waits.wait_until(pilot, lambda: "INC-1 open" in header_text(app), "the marker")
        await pilot.press("n")
        await waits.wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), "the note box")
        await pilot.press("escape")  # cancelled: nothing written
        await waits.wait_until(pilot, lambda: not isinstance(app.screen, NoteScreen), "closed")
    assert stored(ws, "SELECT COUNT(*) FROM incident_notes") == [(0,)]


async def test_read_only_offers_no_incident_keys(ws: Path) -> None:
    session = Session(world.session(ws).profile, read_only=True)
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await waits.settle(pilot)
        await pilot.press("I")
        await pilot.pause()
        assert not isinstance(app.screen, OpenIncidentScreen)
        assert not app.check_action("incident_note", ())
    assert stored(ws, "SELECT COUNT(*) FROM incidents") == [(0,)]


async def test_an_empty_title_is_refused_in_place(ws: Path) -> None:
    app = LlmdeckApp(world.session(ws))
    async with app.run_test(size=SIZE) as pilot:
        await waits.settle(pilot)
        await pilot.press("I")
        await waits.wait_until(
            pilot, lambda: isinstance(app.screen, OpenIncidentScreen), "the incident dialog"
        )
        await pilot.press("space", "enter")
        await waits.wait_until(
            pilot,
            lambda: "needs a title" in str(app.screen.query_one("#incident-error").render()),
            "the error",
        )
        assert isinstance(app.screen, OpenIncidentScreen)
    assert stored(ws, "SELECT COUNT(*) FROM incidents") == [(0,)]


def test_open_incident_modal_snapshot(snap_compare: Any, ws: Path) -> None:
    async def open_dialog(pilot: Any) -> None:
        await waits.settle(pilot)
        await pilot.press("I")
        await waits.wait_until(
            pilot, lambda: isinstance(pilot.app.screen, OpenIncidentScreen), "the dialog"
        )
        field = pilot.app.screen.query_one(Input)
        field.cursor_blink = False
        await type_text(pilot, "Refusals up on support chat")
        await waits.repaint(pilot)

    assert snap_compare(LlmdeckApp(world.session(ws)), terminal_size=SIZE, run_before=open_dialog)
