"""The Overview on a real Prometheus: kill it mid-session and every panel says
"stale since HH:MM:SS: <reason>" with its last good data; restart it and the
panels recover by themselves on the next refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from console.core import clock
from console.core.config import load_config
from console.core.session import Session
from screens.app import LlmdeckApp
from screens.widgets.kpi_strip import KpiStrip
from tests.prom_fixture import AT, PromServer, prom  # noqa: F401 - fixture


@pytest.fixture
def prom_session(prom: PromServer, tmp_path: Path) -> Iterator[Session]:  # noqa: F811
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n    refresh_seconds: 0.3\n"
        f"    metrics: {{kind: prometheus, url: '{prom.url}', timeout: 1, retries: 0}}\n"
    )
    clock.freeze(AT)
    session = Session(load_config(cfg).profile("p"))
    yield session
    session.close()
    clock.freeze(None)


async def wait_for(pilot: Any, check: Any, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.1)


def notes(app: LlmdeckApp) -> list[str]:
    return [str(w.render()) for w in app.screen.query(".chart-note").results(Static)]


async def test_outage_marks_panels_stale_and_recovers(
    prom: PromServer,  # noqa: F811
    prom_session: Session,
) -> None:
    app = LlmdeckApp(prom_session)
    async with app.run_test(size=(160, 48)) as pilot:
        screen: Any = app.screen
        await wait_for(pilot, lambda: screen.charts_poller and screen.charts_poller.refreshes >= 1)
        good = screen._stale.last["tokens"]
        assert good.lines and all(n == "" for n in notes(app))
        prom.stop("prom")
        try:
            await wait_for(pilot, lambda: all(n.startswith("stale since") for n in notes(app)))
            assert any("Connect" in n or "refused" in n for n in notes(app))
            assert screen._stale.last["tokens"] is good  # last good data kept on screen
            strip = app.screen.query_one(KpiStrip)
            await wait_for(pilot, lambda: strip.has_class("-stale"))
        finally:
            prom.start()
        await wait_for(pilot, lambda: all(n == "" for n in notes(app)))
        await wait_for(pilot, lambda: not strip.has_class("-stale"))


async def test_bad_override_marks_only_its_panel(
    prom: PromServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n    refresh_seconds: 0.3\n"
        f"    metrics: {{kind: prometheus, url: '{prom.url}'}}\n"
        "    panels:\n      cost: 'sum(rate(cost_dollars_total[$window]'\n"
    )
    clock.freeze(AT)
    session = Session(load_config(cfg).profile("p"))
    try:
        app = LlmdeckApp(session)
        async with app.run_test(size=(160, 48)) as pilot:
            screen: Any = app.screen
            await wait_for(pilot, lambda: screen.charts_poller and screen.charts_poller.refreshes)
            await pilot.pause()
            cost = str(app.screen.query_one("#chart-cost .chart-note", Static).render())
            assert cost.startswith("stale since ")
            assert "cost: bad_data" in cost and "parse error" in cost
            others = [n for n in notes(app) if n != cost]
            assert len(others) == 5 and all(n == "" for n in others)
            assert screen._stale.last["tokens"].lines
    finally:
        session.close()
        clock.freeze(None)
