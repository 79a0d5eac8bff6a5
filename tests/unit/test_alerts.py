"""Burn-rate alerts: the window arithmetic (hypothesis), and the engine on a
real workspace store filled with traffic whose refusal rates are known, so
every onset, burn and end below is computed by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.records import RequestRecord
from connectors.workspace.schema import connect
from connectors.workspace.store import insert_records
from console.actions import Confirmation, Pipeline
from console.actions.changes import AckAlert, MuteAlert
from console.alerts import burn, engine, lifecycle
from console.alerts.board import current
from console.core import clock
from console.core.alert_rules import alert_settings, rules
from console.core.config import load_config
from console.core.errors import ConfigError
from console.core.session import Session

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ROUTE = "/chat"
RATE = 20  # requests per minute on the route


# -- window arithmetic ---------------------------------------------------------------


@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=60),
    st.data(),
)
def test_window_burn_equals_the_sum_over_the_window(totals: list[int], data: st.DataObject) -> None:
    bads = [data.draw(st.integers(0, t)) for t in totals]
    i = data.draw(st.integers(0, len(totals) - 1))
    steps = data.draw(st.integers(1, 70))
    allowed = data.draw(st.sampled_from([0.01, 0.05, 0.5]))
    got = burn.window_burn(burn.cumulative(totals), burn.cumulative(bads), i, steps, allowed)
    window = range(max(0, i + 1 - steps), i + 1)
    total = sum(totals[k] for k in window)
    if total == 0:
        assert got is None
    else:
        assert got == pytest.approx(sum(bads[k] for k in window) / total / allowed)


@given(st.lists(st.booleans(), max_size=40), st.integers(0, 4))
def test_latest_run_is_the_last_stretch_with_short_gaps_bridged(
    holds: list[bool], keep: int
) -> None:
    run = burn.latest_run(holds, keep)
    if not any(holds):
        assert run is None
        return
    assert run is not None
    last = max(i for i, h in enumerate(holds) if h)
    assert run.end == last and holds[run.start]
    # no gap longer than ``keep`` inside the run, and one just before it (or the start)
    gap = 0
    for h in holds[run.start : run.end + 1]:
        gap = 0 if h else gap + 1
        assert gap <= keep
    before = holds[max(0, run.start - keep - 1) : run.start]
    assert run.start == 0 or not any(before) or len(before) <= keep
    assert run.open == (len(holds) - 1 - last <= keep)


def test_a_bad_alerts_section_names_file_line_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n    environment: development\n    alerts:\n      for: 2m\n"
        "      page: [[1h, 5m, fast]]\n"
    )
    with pytest.raises(ConfigError, match=r"llmdeck.yaml:6: profiles\.p\.alerts\.page: .*\[0\]"):
        load_config(cfg)
    cfg.write_text("profiles:\n  p:\n    environment: development\n    alerts:\n      pages: []\n")
    with pytest.raises(
        ConfigError, match=r"llmdeck.yaml:5: profiles\.p\.alerts\.pages: unknown key"
    ):
        load_config(cfg)


def test_settings_name_the_bad_key() -> None:
    with pytest.raises(ConfigError, match=r"alerts\.page\[0\]: the short window"):
        alert_settings({"alerts": {"page": [["5m", "1h", 14.4]]}})
    with pytest.raises(ConfigError, match=r"slos\./x\.latency: unknown objective"):
        rules({"slos": {"/x": {"latency": 3}}})
    with pytest.raises(ConfigError, match=r"alerts\.for: bad window"):
        alert_settings({"alerts": {"for": "soon"}})
    cfg = alert_settings({})
    assert [(p.name, p.severity) for p in cfg.pairs] == [
        ("1h/5m>14.4x", "page"),
        ("6h/30m>6x", "page"),
        ("3d/6h>1x", "ticket"),
    ]


# -- the engine on a real store ------------------------------------------------------


def _records(start: datetime, end: datetime, rate_at, *, route: str = ROUTE, version: str = "1"):
    """RATE requests a minute in [start, end); ``rate_at(minute_start)`` of them refused
    (a whole number per minute, so the figures below are exact)."""
    t = start
    n = 0
    while t < end:
        refused = rate_at(t)
        for k in range(RATE):
            n += 1
            yield RequestRecord(
                request_id=f"{route}-{version}-{n}",
                ts=t + timedelta(seconds=k * 60 / RATE),
                route=route,
                prompt_id="answer",
                prompt_version=version,
                model_name="m",
                status="ok",
                refusal=k < refused,
                tokens_in=10,
                tokens_out=10,
                cost_usd=0.001,
                latency_ms=100.0,
            )
        t += timedelta(minutes=1)


def _workspace(tmp_path: Path, settings: str, records) -> Session:
    (tmp_path / "llmdeck.yaml").write_text(
        "default_profile: p\nprofiles:\n  p:\n    environment: development\n"
        "    workspace: .\n    metrics: {kind: workspace}\n    request_log: {kind: workspace}\n"
        + settings
    )
    conn = connect(tmp_path / "store.db")
    insert_records(conn, records)
    conn.close()
    return Session(load_config(tmp_path / "llmdeck.yaml").profile(None))


@pytest.fixture
def at_now() -> Iterator[None]:
    clock.freeze(NOW)
    yield
    clock.freeze(None)


SLO = "    slos:\n      /chat: {refusal_rate: 0.01}\n"


def test_page_fires_with_its_onset_and_both_windows_above(tmp_path: Path, at_now: None) -> None:
    onset = NOW - timedelta(minutes=40)
    # 0.5% before (1 in 20 every 10 minutes), 30% (6 of 20) from the onset on.
    recs = _records(
        NOW - timedelta(hours=13),
        NOW,
        lambda t: 6 if t >= onset else (1 if t.minute % 10 == 0 else 0),
    )
    session = _workspace(tmp_path, SLO, recs)
    board = engine.evaluate(session)
    page = next(a for a in board.alerts if a.severity == "page")
    assert page.state == "firing"
    assert page.labels["route"] == ROUTE
    # The 5 m window burns 30x at once. By hand, the 1 h window after m bad
    # minutes holds 6 m + 0.1 (60 - m) refusals of 1200: its burn (5.9 m + 6) / 12
    # passes 14.4 at m = 29, the minute that starts 28 minutes after the onset.
    assert page.onset == onset + timedelta(minutes=28)
    assert page.burn["5m"] == pytest.approx(30.0)
    assert page.burn["1h"] == pytest.approx((5.9 * 40 + 6) / 12, rel=1e-3)
    assert board.pages() == (page,)


def test_a_spike_the_long_window_never_sees_does_not_page(tmp_path: Path, at_now: None) -> None:
    spike = (NOW - timedelta(minutes=20), NOW - timedelta(minutes=10))
    recs = _records(NOW - timedelta(hours=13), NOW, lambda t: 6 if spike[0] <= t < spike[1] else 0)
    session = _workspace(tmp_path, SLO, recs)
    # 1 h: 10 min at 30% -> 5% -> 5x < 14.4; the 5 m window is clean by now.
    assert not [a for a in engine.evaluate(session).alerts if a.severity == "page"]


def test_the_page_resolves_minutes_after_the_cause_stops(tmp_path: Path, at_now: None) -> None:
    bad = (NOW - timedelta(hours=2), NOW - timedelta(minutes=30))
    recs = _records(NOW - timedelta(hours=13), NOW, lambda t: 6 if bad[0] <= t < bad[1] else 0)
    session = _workspace(tmp_path, SLO, recs)
    page = next(a for a in engine.evaluate(session).alerts if a.severity == "page")
    assert page.state == "resolved"
    # By hand: 1h/5m > 14.4x stops 2 minutes after the cause (the 5 m window holds
    # 2 of 5 bad minutes: 12x); 6h/30m > 6x holds while the 30 m window keeps more
    # than 6 bad minutes (30x each / 30), that is until the step 22 minutes after
    # the stop; the 6 h window (90 bad minutes of 360: 7.5x) stays above 6x.
    assert page.ended == bad[1] + timedelta(minutes=23)
    assert page.onset == bad[0] + timedelta(minutes=28)  # (6 m / 12 > 14.4 at m = 29)


def test_pending_until_it_held_for_the_pending_time(tmp_path: Path, at_now: None) -> None:
    recs = _records(NOW - timedelta(hours=13), NOW, lambda t: 20)  # everything refused
    session = _workspace(
        tmp_path,
        SLO.replace("refusal_rate: 0.01", "refusal_rate: 0.01") + "    alerts: {for: 24h}\n",
        recs,
    )
    page = next(a for a in engine.evaluate(session).alerts if a.severity == "page")
    assert page.state == "pending"  # holds for the whole 6 h trace, not the 24 h asked


def test_prompt_slo_pages_the_version_that_burns(tmp_path: Path, at_now: None) -> None:
    canary = NOW - timedelta(minutes=20)
    good = _records(NOW - timedelta(hours=13), NOW, lambda t: 0, version="1")
    bad = _records(canary, NOW, lambda t: 6, version="2")
    session = _workspace(
        tmp_path, "    slos:\n      prompt answer: {refusal_rate: 0.01}\n", [*good, *bad]
    )
    pages = [a for a in engine.evaluate(session).alerts if a.severity == "page"]
    assert [(a.labels["version"], a.state) for a in pages] == [("2", "firing")]
    # Both of v2's windows only hold v2's own requests: it burns 30x from its
    # first minute, pending 2 minutes, then firing.
    assert pages[0].onset == canary
    assert pages[0].labels["route"] == ROUTE
    assert pages[0].title == "refusals burning 30.0x the budget on /chat (answer v2)"


def test_a_signal_the_backend_lacks_is_not_measured(tmp_path: Path, at_now: None) -> None:
    recs = _records(NOW - timedelta(hours=2), NOW, lambda t: 0)
    session = _workspace(tmp_path, "    slos:\n      /chat: {eval_pass_ratio: 0.9}\n", recs)
    board = engine.evaluate(session)
    assert board.alerts == ()
    assert len(board.unmeasured) == 1 and "eval_pass_ratio: not measured" in board.unmeasured[0]


def test_slow_requests_burn_from_the_histogram(tmp_path: Path, at_now: None) -> None:
    recs = list(_records(NOW - timedelta(hours=13), NOW, lambda t: 0))
    slow = [
        RequestRecord(
            request_id=f"slow-{i}", ts=NOW - timedelta(minutes=50, seconds=-i * 6),
            route=ROUTE, status="ok", latency_ms=9000.0,
        )
        for i in range(500)
    ]  # fmt: skip
    session = _workspace(
        tmp_path, "    slos:\n      /chat: {p95_latency_ms: 5000}\n", [*recs, *slow]
    )
    board = engine.evaluate(session)
    assert not board.unmeasured
    # 10 slow a minute among 30 for 50 minutes: a third slow, 5% allowed -> 6.7x: a
    # ticket-level figure over 6 h at most, never a page.
    assert not board.pages()


def test_lifecycle_records_each_transition_once(tmp_path: Path, at_now: None) -> None:
    onset = NOW - timedelta(minutes=40)
    recs = _records(NOW - timedelta(hours=13), NOW, lambda t: 6 if t >= onset else 0)
    session = _workspace(tmp_path, SLO, recs)
    conn = session.store()
    for _ in range(2):
        board = current(session, drift="off")
    events = lifecycle.events(conn, NOW - timedelta(hours=1), NOW + timedelta(minutes=1))
    page = board.pages()[0]
    assert [(e["event"], e["ts"]) for e in events if e["key"] == page.key] == [
        ("pending", page.onset),
        ("firing", page.onset + timedelta(minutes=2)),  # type: ignore[operator]
    ]


def test_ack_and_silence_go_through_the_pipeline(tmp_path: Path, at_now: None) -> None:
    onset = NOW - timedelta(minutes=40)
    recs = _records(NOW - timedelta(hours=13), NOW, lambda t: 6 if t >= onset else 0)
    session = _workspace(tmp_path, SLO, recs)
    page = current(session, drift="off").pages()[0]
    pipeline = Pipeline(session)
    out = pipeline.run(AckAlert(page.key, "oncall"), lambda p: Confirmation(True, reason="mine"))
    assert out.status == "done", out.message
    until = (NOW + timedelta(hours=1)).isoformat()
    out = pipeline.run(MuteAlert(page.key, until), lambda p: Confirmation(True))
    assert out.status == "done", out.message
    board = current(session, drift="off")
    silenced = next(a for a in board.alerts if a.key == page.key)
    assert silenced.acked_by == "oncall" and silenced.silenced_until == NOW + timedelta(hours=1)
    assert board.pages() == ()  # silenced: no longer paging, still listed
    audit = (
        session.store().execute("SELECT action, outcome, reason FROM audit ORDER BY id").fetchall()
    )
    assert audit == [("ack_alert", "done", "mine"), ("mute_alert", "done", "")]
    # read-only: refused and audited, nothing marked
    ro = Session(session.profile, read_only=True)
    out = Pipeline(ro).run(AckAlert(page.key, "other"), lambda p: Confirmation(True))
    assert out.status == "refused"
    assert (
        next(a for a in current(ro, drift="off").alerts if a.key == page.key).acked_by == "oncall"
    )


def test_cli_exits_1_while_a_page_fires(tmp_path: Path) -> None:
    onset = NOW - timedelta(minutes=40)
    recs = _records(NOW - timedelta(hours=13), NOW, lambda t: 6 if t >= onset else 0)
    _workspace(tmp_path, SLO, recs).close()
    env = {"LLMDECK_FROZEN_TIME": NOW.isoformat(), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "console", "--config", str(tmp_path / "llmdeck.yaml"), "alerts",
         "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    doc = [a for a in json.loads(run.stdout) if a["kind"] == "slo"]
    assert [a["severity"] for a in doc] == ["page"]
    assert doc[0]["state"] == "firing" and doc[0]["burn"]["5m"] == pytest.approx(30.0)


def test_a_version_rolled_back_to_no_traffic_resolves_within_minutes(
    tmp_path: Path, at_now: None
) -> None:
    canary, rollback = NOW - timedelta(minutes=60), NOW - timedelta(minutes=20)
    good = _records(NOW - timedelta(hours=13), NOW, lambda t: 0, version="1")
    bad = _records(canary, rollback, lambda t: 6, version="2")
    session = _workspace(
        tmp_path, "    slos:\n      prompt answer: {refusal_rate: 0.01}\n", [*good, *bad]
    )
    page = next(a for a in engine.evaluate(session).alerts if a.severity == "page")
    # The 30 m window still burns 30x, but v2 has had no request for 5 minutes:
    # nothing is being spent, so the page ends with the last 5 m window that had one
    # (the steps 11:35-11:39 hold the last requests; from 11:44 on the window is empty).
    assert page.state == "resolved"
    assert page.ended == rollback + timedelta(minutes=4)


def test_the_ticket_of_a_version_with_no_more_traffic_ends_too(
    tmp_path: Path, at_now: None
) -> None:
    canary, rollback = NOW - timedelta(hours=3), NOW - timedelta(minutes=20)
    good = _records(NOW - timedelta(hours=13), NOW, lambda t: 0, version="1")
    bad = _records(canary, rollback, lambda t: 6, version="2")
    session = _workspace(
        tmp_path, "    slos:\n      prompt answer: {refusal_rate: 0.01}\n", [*good, *bad]
    )
    alerts = {a.severity: a for a in engine.evaluate(session).alerts}
    # The 3 d and 6 h windows still burn 30x, but v2 has burnt nothing since the
    # rollback: the ticket ends with the shortest window after its last request.
    assert alerts["ticket"].state == "resolved"
    assert alerts["ticket"].ended == rollback + timedelta(minutes=5)
    assert alerts["page"].state == "resolved"
