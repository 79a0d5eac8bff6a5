"""Registry and Diff screens on a demo workspace: snapshots and Pilot journeys.

The Registry screen snapshots alias maps into the store on every poll, so these
tests run on a private copy of the demo workspace (``demo_copy``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.widgets import DataTable, Static

from connectors.errors import BackendUnavailable
from console.core.session import Session
from console.diff.compare import compare, unified
from screens.app import LlmdeckApp
from screens.diff import DiffScreen
from screens.navigation import open_diff
from screens.registry import RegistryScreen
from screens.widgets.diff_view import DiffView
from tests.conftest import demo_profile
from tests.journeys import waits

SIZE = (160, 48)


async def settle(pilot: Any) -> None:
    for _ in range(3):  # listing, then the detail it starts
        await waits.settle(pilot, rounds=1)
        await pilot.pause()


@pytest.fixture
def session(demo_copy: Path, frozen_clock: Any) -> Iterator[Session]:
    s = Session(demo_profile(demo_copy))
    yield s
    s.close()


def text_of(app: LlmdeckApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def select_name(pilot: Any, name: str) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, RegistryScreen)
    names = [e.name for e in screen.entries]
    screen.query_one("#registry-names", DataTable).move_cursor(row=names.index(name))
    await settle(pilot)


def test_registry_snapshot(snap_compare: Any, session: Session) -> None:
    async def go(pilot: Any) -> None:
        pilot.app.switch_mode("registry")
        await waits.wait_until(
            pilot, lambda: waits.table_ready(pilot, "#registry-names"), "registry names"
        )
        await select_name(pilot, "support-answer")
        for table in ("#registry-versions", "#registry-history", "#registry-lineage"):
            await waits.wait_until(pilot, lambda t=table: waits.table_ready(pilot, t), table)
        await waits.repaint(pilot)
        shown = pilot.app.export_screenshot()
        assert "ticket-summary" in shown and "llama-3.1-8b-instruct" in shown  # names whole

    assert snap_compare(LlmdeckApp(session), terminal_size=SIZE, run_before=go)


def test_diff_snapshot(snap_compare: Any, session: Session) -> None:
    async def go(pilot: Any) -> None:
        await settle(pilot)
        open_diff(pilot.app, "support-answer", "13", "14")
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(LlmdeckApp(session), terminal_size=SIZE, run_before=go)


async def test_registry_journey_to_diffs(session: Session, demo_copy: Path) -> None:
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        app.switch_mode("registry")
        await settle(pilot)
        await select_name(pilot, "support-answer")
        screen = app.screen
        assert isinstance(screen, RegistryScreen) and screen.detail is not None
        moves = [(m.alias, m.before, m.after) for m in screen.detail.history]
        assert moves[-1] == ("canary", None, "14")
        lineage = {(r.prompt_version, r.model_name) for r in screen.detail.lineage}
        assert ("14", "gpt-4o-mini") in lineage and ("13", "claude-3-5-haiku") in lineage
        # d on the newest version (the cursor starts there): v14 against v13
        screen.query_one("#registry-versions").focus()
        await pilot.press("d")
        await settle(pilot)
        diff = app.screen
        assert isinstance(diff, DiffScreen) and diff.loaded is not None
        assert (diff.loaded.diff.a.version, diff.loaded.diff.b.version) == ("13", "14")
        assert "v13 [production] → v14 [canary]" in text_of(app, "#diff-title")
        # traffic of both versions over the same window: v14 refuses about 4x more
        t13, t14 = diff.loaded.traffic["13"], diff.loaded.traffic["14"]
        assert t14.refusal_rate is not None and t13.refusal_rate is not None
        assert t14.refusal_rate > 3 * t13.refusal_rate
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        # mark v11, select v13, d: v11 against v13
        versions = screen.query_one("#registry-versions", DataTable)
        versions.move_cursor(row=3)
        await pilot.press("m")
        versions.move_cursor(row=1)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DiffScreen) and app.screen.loaded is not None
        assert (app.screen.loaded.diff.a.version, app.screen.loaded.diff.b.version) == ("11", "13")
        await pilot.press("escape")
        await pilot.press("a")  # production against canary
        await settle(pilot)
        assert isinstance(app.screen, DiffScreen) and app.screen.target is not None
        assert (app.screen.target.a, app.screen.target.b) == ("production", "canary")


async def test_drift_alert_to_diff_of_the_offending_version(
    session: Session, demo_copy: Path
) -> None:
    """The on-call journey: Drift alert on support-answer@14 -> d -> its diff, exported."""
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        app.switch_mode("drift")
        await settle(pilot)
        drift = app.screen
        report = drift.report  # type: ignore[attr-defined]
        assert report is not None
        row = next(
            i
            for i, r in enumerate(report.rows)
            if r.group == "support-answer@14" and r.status == "alert"
        )
        drift.query_one("#drift-table", DataTable).move_cursor(row=row)
        await pilot.pause()
        await pilot.press("d")
        await settle(pilot)
        diff = app.screen
        assert isinstance(diff, DiffScreen) and diff.loaded is not None
        assert (diff.loaded.diff.a.version, diff.loaded.diff.b.version) == ("13", "14")
        view = diff.query_one(DiffView)
        assert view.hunks == [0]
        await pilot.press("n")
        assert "hunk 1 of 1" in text_of(app, "#diff-status")
        await pilot.press("e")
        await pilot.pause()
        exported = demo_copy / "exports" / "support-answer-v13-v14.diff"
        assert str(exported) in text_of(app, "#diff-status")
        expected = unified(compare(diff.loaded.diff.a, diff.loaded.diff.b))
        assert exported.read_text() == expected
        assert "+You are the support assistant" in expected and "Be brief." in expected
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is drift


async def test_chat_prompt_diff_per_message(session: Session, demo_copy: Path) -> None:
    file = demo_copy / "prompts" / "ticket-summary.yaml"
    doc = yaml.safe_load(file.read_text())
    latest = doc["versions"][-1]
    latest["messages"] = [*reversed(latest["messages"]), {"role": "assistant", "content": "-"}]
    file.write_text(yaml.safe_dump(doc, sort_keys=False))
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        open_diff(app, "ticket-summary", "3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen) and screen.loaded is not None
        statuses = sorted(m.status for m in screen.loaded.diff.messages)
        assert statuses == ["added", "equal", "moved"]
        assert "chat, per message" in text_of(app, "#diff-title")
        await pilot.press("c")
        assert "copied to the clipboard" in text_of(app, "#diff-status")
        assert "### assistant" in app.clipboard


async def test_broken_registry_file_is_reported_and_the_rest_works(
    session: Session, demo_copy: Path
) -> None:
    (demo_copy / "prompts" / "broken.yaml").write_text(
        "name: broken\nkind: prompt\nversions:\n  - version: '1'\n    tags: [a, b]\n"
    )
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        app.switch_mode("registry")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RegistryScreen)
        assert "1 problems" in text_of(app, "#registry-status")
        assert "support-answer" in [e.name for e in screen.entries]
        assert "broken" not in [e.name for e in screen.entries]


async def test_unknown_version_says_so(session: Session) -> None:
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        open_diff(app, "support-answer", "nope", "14")
        await settle(pilot)
        title = text_of(app, "#diff-title")
        assert "cannot diff support-answer@nope" in title
        assert "no such version or alias" in title


async def test_move_alias_goes_through_the_write_pipeline(
    session: Session, demo_copy: Path
) -> None:
    """Roll canary back to v13: plan, confirmation modal, write, audit, alias history."""
    from screens.modals.confirm import ConfirmScreen

    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        app.switch_mode("registry")
        await settle(pilot)
        await select_name(pilot, "support-answer")
        screen = app.screen
        assert isinstance(screen, RegistryScreen)
        screen.query_one("#registry-versions", DataTable).move_cursor(row=1)  # v13
        await pilot.press("A")
        await pilot.pause()
        app.screen.query_one("#alias-input").value = "canary"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "move support-answer@canary to version 13" in app.screen.plan.title
        await pilot.press("enter")  # the reason field submits: apply
        await settle(pilot)
        assert app.screen is screen
        doc = yaml.safe_load((demo_copy / "prompts" / "support-answer.yaml").read_text())
        assert doc["aliases"]["canary"] == "13"
        audit = (
            session.store()
            .execute("SELECT action, target, outcome FROM audit ORDER BY id DESC LIMIT 1")
            .fetchone()
        )
        assert audit == ("move_alias", "support-answer:canary", "done")
        await settle(pilot)
        assert screen.detail is not None
        assert (screen.detail.history[-1].alias, screen.detail.history[-1].after) == (
            "canary",
            "13",
        )


async def test_move_alias_is_not_offered_read_only(demo_copy: Path, frozen_clock: Any) -> None:
    session = Session(demo_profile(demo_copy), read_only=True)
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        app.switch_mode("registry")
        await settle(pilot)
        await select_name(pilot, "support-answer")
        assert "move_alias" not in {b.binding.action for b in app.active_bindings.values()}
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, RegistryScreen)  # nothing opened
        doc = yaml.safe_load((demo_copy / "prompts" / "support-answer.yaml").read_text())
        assert doc["aliases"] == {"production": "13", "canary": "14"}
    session.close()


async def test_registry_down_is_shown_not_raised(tmp_path: Path, frozen_clock: Any) -> None:
    from console.core.config import load_config

    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n    registry: {kind: mlflow, url: 'http://127.0.0.1:9', retries: 0}\n"
    )
    session = Session(load_config(cfg).profile("p"))
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        app.switch_mode("registry")
        await settle(pilot)
        status = text_of(app, "#registry-status")
        assert "stale since" in status
        # One error path (connectors/support/http.py): backend, what was read, cause.
        assert (
            "MLflow at http://127.0.0.1:9: /registered-models/search: unreachable (ConnectError)"
            in status
        )
        open_diff(app, "support-answer", "14")
        await settle(pilot)
        assert "unreachable" in text_of(app, "#diff-title")
    session.close()


def test_chat_diff_snapshot(snap_compare: Any, session: Session, demo_copy: Path) -> None:
    file = demo_copy / "prompts" / "ticket-summary.yaml"
    doc = yaml.safe_load(file.read_text())
    latest = doc["versions"][-1]
    latest["messages"] = [*reversed(latest["messages"]), {"role": "assistant", "content": "S:"}]
    latest["messages"][0]["content"] += " Mention the plan."
    latest["model_config"]["temperature"] = 0.5
    file.write_text(yaml.safe_dump(doc, sort_keys=False))

    async def go(pilot: Any) -> None:
        await settle(pilot)
        open_diff(pilot.app, "ticket-summary", "3")
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(LlmdeckApp(session), terminal_size=SIZE, run_before=go)


async def test_a_failed_worker_is_handled_whatever_the_timing(frozen_clock: Any) -> None:
    """Defect 13: waiting for a worker that has just failed must not raise.

    The worker below fails while the test is already waiting for it, the timing
    that raised ``WorkerFailed`` out of ``wait_for_complete`` under load. The app
    shows the error; the wait must return and the app keep running.
    """
    from textual.app import App
    from textual.worker import WorkerState

    release = asyncio.Event()

    async def fails() -> None:
        await release.wait()
        raise BackendUnavailable("MLflow at http://127.0.0.1:9 is unreachable")

    class OneWorker(App[None]):
        def on_mount(self) -> None:
            self.worker = self.run_worker(fails(), name="registry", exit_on_error=False)

    app = OneWorker()
    async with app.run_test() as pilot:
        waiting = asyncio.ensure_future(waits.settle(pilot))
        await pilot.pause()
        release.set()
        await waiting  # raised WorkerFailed with wait_for_complete()
        assert app.worker.state == WorkerState.ERROR
        assert app.is_running
