"""Overview: charts, grouping and range keys, change markers, budgets and SLOs,
``llmdeck metrics --json`` against pandas over the raw records, snapshots."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from textual.widgets import Static

from console.changelog import markers as changes
from console.core.session import Session
from console.core.spans import RANGES
from console.overview import budgets, slo
from console.overview.panels import load_panels
from screens.app import LlmdeckApp
from tests.conftest import FIXED_NOW
from tests.journeys import waits

SIZE = (160, 48)
CANARY = FIXED_NOW - timedelta(hours=3)


async def settle(pilot: Any) -> None:
    # KPIs first, then the charts mount and load: wait for both rounds.
    for _ in range(3):
        await waits.settle(pilot, rounds=1)
        await pilot.pause()


def _frame(demo_dir: Path, start: Any, end: Any) -> pd.DataFrame:
    return pd.read_sql_query(
        "SELECT ts, prompt_id || '@' || prompt_version AS pv, tenant, cost_usd, refusal "
        "FROM requests WHERE ts >= ? AND ts < ?",
        sqlite3.connect(demo_dir / "store.db"),
        params=(int(start.timestamp() * 1000), int(end.timestamp() * 1000)),
    )


def test_change_marker_just_before_the_refusal_rise(demo_session: Session) -> None:
    found = changes.load(demo_session, FIXED_NOW - timedelta(hours=6), FIXED_NOW)
    canary = [e for e in found.events if e.ts == CANARY]
    assert any("canary support-answer v14" in e.what and e.who == "deploy-bot" for e in canary)
    assert any("v14 50%" in e.what for e in canary)  # the flag snapshot diff
    panel = load_panels(demo_session, RANGES["6h"], "none")["rates"]
    refusal = next(ln for ln in panel.lines if ln.label == "refusal_rate")
    before = [v for t, v in refusal.points if t < CANARY.timestamp()]
    after = [v for t, v in refusal.points if t >= CANARY.timestamp()]
    assert sum(after) / len(after) > 2 * sum(before) / len(before)


def test_metrics_json_equals_pandas(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from console.cli import main

    monkeypatch.setenv("LLMDECK_FROZEN_TIME", FIXED_NOW.isoformat())
    cfg = str(demo_dir / "llmdeck.yaml")
    assert main(["--config", cfg, "metrics", "--json", "--range", "6h",
                 "--group-by", "prompt_version"]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    df = _frame(demo_dir, FIXED_NOW - timedelta(hours=6), FIXED_NOW)
    assert data["kpis"]["requests"] == len(df)
    assert data["kpis"]["refusal_rate"] == pytest.approx(df.refusal.mean())
    assert data["kpis"]["cost_per_hour"] == pytest.approx(df.cost_usd.sum() / 6)
    # the refusal chart by prompt version: each 5-minute point equals pandas
    step = data["step_s"]
    series = {s["label"]: s for s in data["panels"]["refusals"]["series"]}
    df["step"] = (df.ts // 1000 - int((FIXED_NOW - timedelta(hours=6)).timestamp())) // step
    expected = df[df.pv == "support-answer@14"].groupby("step").refusal.mean()
    got = dict(series["support-answer@14"]["points"])
    start = int((FIXED_NOW - timedelta(hours=6)).timestamp())
    for i, value in expected.items():
        assert got[start + int(i) * step] == pytest.approx(value)
    assert any("canary support-answer v14" in c["what"] for c in data["changes"])


def test_budgets_and_slos_on_the_demo(demo_session: Session, demo_dir: Path) -> None:
    metrics = demo_session.metrics()
    assert metrics is not None
    settings = demo_session.profile.settings
    day = FIXED_NOW.replace(hour=0)
    spent = _frame(demo_dir, day, FIXED_NOW).groupby("tenant").cost_usd.sum()
    rows = budgets.budgets(metrics, settings, FIXED_NOW)
    assert len(rows) == 5
    for b in rows:
        assert b.spent == pytest.approx(spent[b.tenant])
        assert b.burn == pytest.approx(b.spent / 60.0)
    assert rows[0].burn >= rows[-1].burn
    statuses = {s.objective: s for s in slo.evaluate(metrics, settings, FIXED_NOW)}
    refusal = statuses["refusal_rate"]
    assert refusal.status == "burning"  # v14 canary: 1 h and 6 h both above budget
    assert refusal.burn_1h is not None and refusal.burn_6h is not None
    assert refusal.burn_1h > refusal.burn_6h > 1.0


def test_default_range_shows_the_cause(demo_session: Session) -> None:
    """Issue 17 defect 4: at the default 1 h range the refusal KPI is judged bad
    (against its baseline and SLO) and the v14 canary flag change, 3 h before, is
    listed as before the range instead of "no changes in this range"."""
    from console.overview import kpis
    from console.overview import refresh as overview_data
    from screens.overview import _changes_text

    judged = {c.key: c for c in kpis.cards(kpis.load_frame(demo_session, RANGES["1h"]))}
    assert judged["refusal_rate"].severity == "bad", judged["refusal_rate"]
    assert judged["requests_per_min"].severity == "ok"
    assert judged["latency_p95_ms"].text.startswith("~")  # read off buckets: an estimate
    data = overview_data.load(demo_session, RANGES["1h"], "none")
    assert not data.changes
    assert any(e.ts == CANARY and "v14 50%" in e.what for e in data.earlier)
    text = _changes_text(data)
    assert "v14 50%" in text and "(before range)" in text


def test_latency_slo_period_and_windows_agree(demo_session: Session) -> None:
    """Issue 17 defect 10: the p95 SLO read 0% bad minutes over its 24 h period
    (hourly p95s hide bad minutes) while its 6 h window, inside that period, had
    bad minutes. Bad minutes in a window are bad minutes of the period too."""
    metrics = demo_session.metrics()
    assert metrics is not None
    statuses = {s.objective: s for s in slo.evaluate(metrics, demo_session.profile.settings,
                                                      FIXED_NOW)}  # fmt: skip
    p95 = statuses["p95_latency_ms"]
    assert p95.burn_6h is not None and p95.burn_6h > 0  # the demo has slow minutes
    assert p95.observed is not None and p95.observed > 0
    assert p95.budget_left is not None and p95.budget_left < 1
    # 6 h of the 24 h period: the period holds at least the window's bad minutes
    share_6h = p95.burn_6h * slo.LATENCY_ALLOWED_BAD
    assert p95.observed >= share_6h * 6 / 24 * 0.5  # request weights differ by hour


async def test_group_and_range_keys(demo_session: Session) -> None:
    app = LlmdeckApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen: Any = app.screen
        assert screen.charts_poller is not None and screen.charts_poller.refreshes == 1
        await pilot.press("g")  # none -> model
        await pilot.press("t")  # 1h -> 6h
        await settle(pilot)
        assert screen.group_by == "model" and screen.range_name == "6h"
        status = str(app.screen.query_one("#kpi-status", Static).render())
        assert "last 6h" in status and "group by model" in status
        data = screen._stale.last["cost"]
        assert {ln.label for ln in data.lines} == {
            "gpt-4o-mini", "claude-3-5-haiku", "llama-3.1-8b-instruct"
        }  # fmt: skip
        text = str(app.screen.query_one("#changes", Static).render())
        assert "canary support-answer v14" in text
        await pilot.press("T", "T")  # 6h -> 1h -> 15m
        await settle(pilot)
        assert screen.range_name == "15m"


def test_overview_snapshot(snap_compare: Any, demo_session: Session) -> None:
    async def six_hours(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)

    assert snap_compare(LlmdeckApp(demo_session), terminal_size=SIZE, run_before=six_hours)


def test_drift_snapshot(snap_compare: Any, demo_session: Session) -> None:
    async def drift(pilot: Any) -> None:
        await settle(pilot)
        await pilot.app.switch_mode("drift")
        await settle(pilot)

    assert snap_compare(LlmdeckApp(demo_session), terminal_size=SIZE, run_before=drift)
