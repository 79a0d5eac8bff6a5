"""Replay screens: snapshots of the comparison, A/B and batch screens on stored
results, and Pilot journeys (``r`` on a request, a batch run with progress and
cancel) against the misbehaving local server of tests/fault_server.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from connectors.base import RequestFilter
from connectors.records import ReplayResult, RequestRecord
from console.core.session import Session
from console.replay import store
from screens.app import LlmdeckApp
from screens.replay import CompareScreen, ReplayScreen
from screens.replay_batch import ReplayBatchScreen
from tests.conftest import FIXED_NOW, demo_profile
from tests.fault_server import FaultServer, fault_server
from tests.journeys import waits

SIZE = (160, 48)


async def settle(pilot: Any) -> None:
    # A finished worker may start the next one (select requests, then replay them).
    for _ in range(3):
        await waits.settle(pilot, rounds=1)
        await pilot.pause()


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with fault_server() as s:
        yield s


def with_target(ws: Path, url: str) -> Session:
    cfg = ws / "llmdeck.yaml"
    cfg.write_text(cfg.read_text().replace("http://127.0.0.1:18081/v1", url))
    return Session(demo_profile(ws))


def pick(session: Session, n: int, **flt: Any) -> list[RequestRecord]:
    log = session.request_log()
    assert log is not None
    page = log.page(RequestFilter(status="ok", **flt), limit=100)
    return [r for r in page.records if r.has_content][:n]


def stored(rec: RequestRecord, i: int, version: str, output: str, verdict: str) -> ReplayResult:
    """A replay result with fixed ids and times, so snapshots are stable."""
    sim = {"identical": 1.0, "similar": 0.86, "different": 0.31}.get(verdict)
    return ReplayResult(
        replay_id=f"rp_{version}_{i:02d}",
        request_id=rec.request_id,
        target="local",
        ts=FIXED_NOW - timedelta(minutes=10 - i),
        request={
            "model": "smollm2-135m",
            "params": dict(rec.params),
            "messages": [dict(m) for m in rec.messages],
            "outputs": [output],
            "repeat": 1,
        },
        output=output,
        verdict=verdict,
        similarity=sim,
        tokens_in=212,
        tokens_out=40,
        latency_ms=812.0 + i,
        system_fingerprint="b4963-llama",
        prompt_version=version,
    )


@pytest.fixture
def seeded(demo_copy: Path, frozen_clock: Any) -> Iterator[tuple[Session, list[RequestRecord]]]:
    session = Session(demo_profile(demo_copy))
    recs = pick(session, 4, route="/support/chat", prompt_version="13")
    conn = session.store()
    for i, rec in enumerate(recs):
        same = rec.output or ""
        store.save(conn, stored(rec, i, "13", same, "identical"), "b_v13")
        if i % 2:
            b = stored(rec, i, "14", "I'm sorry, but I can't help with that request.", "different")
        else:
            b = stored(rec, i, "14", same.replace("Thanks", "Thank you"), "similar")
        store.save(conn, b, "b_v14")
    yield session, recs
    session.close()


def test_replay_comparison_snapshot(snap_compare: Any, seeded: Any) -> None:
    session, recs = seeded
    rec = recs[1]
    result = store.for_batch(session.store(), "b_v14")[1]

    async def run(pilot: Any) -> None:
        await settle(pilot)
        await pilot.app.push_screen(ReplayScreen(rec, result=result))
        await settle(pilot)

    assert snap_compare(LlmdeckApp(session), terminal_size=SIZE, run_before=run)


def test_replay_ab_snapshot(snap_compare: Any, seeded: Any) -> None:
    session, _ = seeded

    async def run(pilot: Any) -> None:
        await settle(pilot)
        await pilot.app.push_screen(CompareScreen("b_v13", "b_v14"))
        await waits.wait_until(pilot, lambda: waits.table_ready(pilot, "#cmp-table"), "A/B rows")
        await waits.repaint(pilot)

    assert snap_compare(LlmdeckApp(session), terminal_size=SIZE, run_before=run)


def test_batch_screen_snapshot(snap_compare: Any, seeded: Any) -> None:
    session, _ = seeded

    async def run(pilot: Any) -> None:
        await settle(pilot)
        pilot.app.switch_mode("replays")
        await settle(pilot)
        await settle(pilot)

    assert snap_compare(LlmdeckApp(session), terminal_size=SIZE, run_before=run)


async def test_r_on_a_request_replays_it(
    demo_copy: Path, frozen_clock: Any, server: FaultServer
) -> None:
    from screens.request_detail import RequestDetailScreen

    session = with_target(demo_copy, server.base("ok"))
    rec = pick(session, 1, route="/analytics/sql")[0]
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.push_screen(RequestDetailScreen(rec))
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ReplayScreen)
        assert app.screen.result is not None
        assert app.screen.result.verdict == "different"
        assert app.screen.result.output == "echo: " + rec.messages[-1]["content"]
        assert store.for_request(session.store(), rec.request_id)


async def test_r_on_a_failing_target_says_why(
    demo_copy: Path, frozen_clock: Any, server: FaultServer
) -> None:
    session = with_target(demo_copy, server.base("badjson"))
    rec = pick(session, 1, route="/analytics/sql")[0]
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.push_screen(ReplayScreen(rec))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReplayScreen) and screen.result is not None
        assert screen.result.verdict == "failed"
        assert "answer is not JSON" in str(screen.query_one("#replay-summary").render())


async def test_batch_run_from_the_screen_and_cancel(
    demo_copy: Path, frozen_clock: Any, server: FaultServer
) -> None:
    session = with_target(demo_copy, server.base("mixed"))
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.switch_mode("replays")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReplayBatchScreen)
        screen.query_one("#f-filter", Input).value = "route:/tickets/summarize"
        screen.query_one("#f-limit", Input).value = "12"
        await pilot.press("ctrl+s")
        await settle(pilot)
        batches = store.batches(session.store())
        assert len(batches) == 1 and batches[0].n == 12
        assert set(batches[0].verdicts) <= {"different", "failed", "not_replayable"}
        assert screen.query_one("#batches", DataTable).row_count == 1
        # a slow target: start, cancel, and nothing more is sent
        slow = dataclasses.replace(
            session.profile.replay_targets["local"],
            options={"url": server.base("slow"), "timeout": 10},
        )
        session.profile.replay_targets["local"] = slow
        screen.query_one("#f-concurrency", Input).value = "1"
        sent = server.hits["/slow/v1/chat/completions"]
        await pilot.press("ctrl+s")
        # Cancel once the first request is in flight (not after a guessed delay).
        await waits.poll_until(
            pilot, lambda: server.hits["/slow/v1/chat/completions"] > sent, "the first send"
        )
        await pilot.press("escape")
        await settle(pilot)
        assert not screen.running
        # the one request in flight was abandoned; nothing more was sent or stored
        assert server.hits["/slow/v1/chat/completions"] - sent == 1
        assert len(store.batches(session.store())) == 1
        assert "cancelled after 0 replays" in str(screen.query_one("#batch-status").render())


async def test_open_replay_by_request_id(
    demo_copy: Path, frozen_clock: Any, server: FaultServer
) -> None:
    from screens.navigation import open_replay

    session = with_target(demo_copy, server.base("ok"))
    rec = pick(session, 1, route="/tickets/summarize")[0]
    app = LlmdeckApp(session)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        open_replay(app, "req_does_not_exist")
        await pilot.pause()
        assert not isinstance(app.screen, ReplayScreen)
        assert any("cannot replay" in n.message for n in app._notifications)
        open_replay(app, rec.request_id)
        await settle(pilot)
        assert isinstance(app.screen, ReplayScreen) and app.screen.result is not None
        assert app.screen.result.request_id == rec.request_id
