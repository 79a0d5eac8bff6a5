"""The Overview on a workspace whose traffic stopped 70 minutes ago: every chart
title starts "no data since 10:50", the KPI cards say "no data" with the
time in their border instead of 0.0 and "-", and the line under the strip says
the request stream stopped. When one route stops and the rest flows, the
panels stay clean (that is an alert, not an empty chart)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from console.core import clock
from console.core.config import load_config
from console.core.session import Session
from console.overview.kpis import CARD_KEYS
from screens.app import LlmdeckApp
from screens.widgets.charts import Chart
from tests import traffic
from tests.conftest import FIXED_NOW
from tests.journeys import waits

NOW = FIXED_NOW  # 12:00
START = NOW - timedelta(hours=8)
STOP = NOW - timedelta(minutes=69, seconds=48)  # 10:50:12


def _session(tmp_path: Path, routes: dict[str, Any]) -> Iterator[Session]:
    cfg = traffic.workspace(tmp_path / "ws", routes)
    clock.freeze(NOW)
    session = Session(load_config(cfg).profile("w"))
    try:
        yield session
    finally:
        session.close()
        clock.freeze(None)


@pytest.fixture
def stopped(tmp_path: Path) -> Iterator[Session]:
    yield from _session(tmp_path, {"/a": (START, STOP), "/b": (START, STOP)})


@pytest.fixture
def one_route_stopped(tmp_path: Path) -> Iterator[Session]:
    yield from _session(tmp_path, {"/a": (START, NOW - timedelta(seconds=5)), "/b": (START, STOP)})


def titles(app: LlmdeckApp) -> list[str]:
    return [str(c.query_one(".chart-title", Static).render()) for c in app.screen.query(Chart)]


def charts_loaded(app: LlmdeckApp) -> bool:
    poller = getattr(app.screen, "charts_poller", None)
    return poller is not None and poller.refreshes >= 1 and len(titles(app)) == 6


async def test_stopped_stream_says_no_data_since(stopped: Session) -> None:
    app = LlmdeckApp(stopped)
    async with app.run_test(size=(160, 48)) as pilot:
        await waits.wait_until(pilot, lambda: charts_loaded(app), "the charts' first load")
        await waits.wait_until(
            pilot,
            lambda: all(t.startswith("no data since 10:50 · ") for t in titles(app)),
            "every chart title saying no data since 10:50",
        )
        assert all(c.has_class("-absent") for c in app.screen.query(Chart))
        assert titles(app)[0] == "no data since 10:50 · tokens per minute (in, out)"
        for key in CARD_KEYS:
            card = app.screen.query_one(f"#kpi-{key}")
            assert str(card.query_one(".kpi-value", Static).render()) == "no data", key
            assert card.border_subtitle == "since 10:50", key
            assert card.has_class("-nodata") and card.has_class("-warn")
        status = str(app.screen.query_one("#kpi-status", Static).render())
        assert status.startswith("requests: no data since 10:50 · last 1h")
        # At 6 h the window holds the five hours before the stop: the cards show
        # figures again, the charts draw them, still marked as stopped.
        await pilot.press("t")
        value = app.screen.query_one("#kpi-requests_per_min .kpi-value", Static)
        await waits.wait_until(
            pilot,
            lambda: (
                str(value.render()) not in ("no data", "")
                and "last 6h" in str(app.screen.query_one("#kpi-status", Static).render())
            ),
            "the 6 h figures",
        )
        assert float(str(value.render())) > 0
        assert app.screen.query_one("#kpi-requests_per_min").border_subtitle == ""
        await waits.settle(pilot)
        assert all(t.startswith("no data since 10:50 · ") for t in titles(app))


async def test_one_route_stopping_leaves_the_panels_clean(one_route_stopped: Session) -> None:
    app = LlmdeckApp(one_route_stopped)
    async with app.run_test(size=(160, 48)) as pilot:
        await waits.wait_until(pilot, lambda: charts_loaded(app), "the charts' first load")
        await waits.settle(pilot)
        assert not any("no data" in t for t in titles(app))
        assert not any(c.has_class("-absent") for c in app.screen.query(Chart))
        card = app.screen.query_one("#kpi-requests_per_min")
        assert not card.has_class("-nodata") and card.border_subtitle == ""
