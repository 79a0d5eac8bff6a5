"""The alerts as every screen and command shows them: the engine's own, the
drift report's alerts, absent data and the team's own alerting, with the
acknowledgements and silences from the workspace. Live evaluations are
recorded (``lifecycle``); a look at a past moment reads without writing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from dataclasses import replace
from datetime import datetime
from typing import Literal

from connectors.errors import ConnectorError
from console.alerts import engine, lifecycle
from console.alerts.engine import Board
from console.alerts.external import external_alerts
from console.alerts.model import Alert
from console.core.alert_rules import alert_settings
from console.core.errors import LlmdeckError
from console.core.session import Session

# The drift report reads request rows (half a second at 250k, seconds at 1M):
# its alerts are re-computed at most this often, never on every refresh.
DRIFT_MAX_AGE_S = 300.0
_drift: weakref.WeakKeyDictionary[Session, tuple[float, list[Alert], str]] = (
    weakref.WeakKeyDictionary()
)
_drift_lock = threading.Lock()
_record_lock = threading.Lock()
# Drift signals that alert: rates and output length. Cost and latency drift
# with the daily cycle and the tenant mix; budgets and latency SLOs judge them.
DRIFT_SIGNALS = ("refusal_rate", "error_rate", "block_rate", "output_tokens")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def drift_alerts(session: Session) -> tuple[list[Alert], str]:
    """Alerts for the drift report's rows in "alert" status (tickets: a drift
    is a change to look at, not an outage), and a problem line or ""."""
    from console.drift import report

    try:
        rep = report.compute(session)
    except (ConnectorError, LlmdeckError, ValueError, sqlite3.Error) as exc:
        return [], f"drift: {exc}"
    out = []
    for row in rep.rows:
        if row.status != "alert" or row.signal not in DRIFT_SIGNALS:
            continue
        what = row.label or row.signal
        out.append(
            Alert(
                key=f"drift:{rep.group_by}={row.group}:{row.signal}",
                kind="drift",
                severity="ticket",
                state="firing",
                title=f"{what} drifted on {row.group} ({row.test}={row.statistic:.2f})",
                labels={rep.group_by: row.group, "signal": row.signal},
                onset=rep.current[0],
                observed=row.current,
                detail=f"{_fmt(row.baseline)} -> {_fmt(row.current)} over the last "
                f"{(rep.current[1] - rep.current[0]).total_seconds() / 3600:g} h "
                f"({row.n_current} requests)",
            )
        )
    return out, ""


def _cached_drift(
    session: Session, mode: Literal["fresh", "cached", "off"]
) -> tuple[list[Alert], str]:
    if mode == "off":
        return [], ""
    with _drift_lock:
        hit = _drift.get(session)
    if hit is not None and (mode == "cached" or time.monotonic() - hit[0] < DRIFT_MAX_AGE_S):
        return hit[1], hit[2]
    if mode == "cached":
        return [], ""
    alerts, problem = drift_alerts(session)
    with _drift_lock:
        _drift[session] = (time.monotonic(), alerts, problem)
    return alerts, problem


def _one_per_alert(team: list[Alert]) -> list[Alert]:
    """The same alert as Prometheus fires it and Alertmanager routes it: shown
    once, Alertmanager's (it knows the silences) unless only Prometheus answers."""

    def ident(a: Alert) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(a.labels.items()))

    managed = {ident(a) for a in team if a.source == "alertmanager" and not a.stale}
    return [a for a in team if a.source == "alertmanager" or ident(a) not in managed]


def current(
    session: Session,
    at: datetime | None = None,
    *,
    drift: Literal["fresh", "cached", "off"] = "cached",
) -> Board:
    """Every alert at ``at`` (default now), worst first. ``drift``: compute the
    drift report's alerts if older than DRIFT_MAX_AGE_S ("fresh"), use them only
    if already computed ("cached", for refreshes), or leave them out."""
    if at is None and session.view.pinned:
        at = session.view.now()  # a look back: what the on-call saw, nothing recorded
    live = at is None
    board = engine.evaluate(session, at)
    alerts = list(board.alerts)
    problems = list(board.problems)
    if live:
        extra, problem = _cached_drift(session, drift)
        alerts += extra
        if problem:
            problems.append(problem)
        if session.profile.alerting:
            # The team's own alerting answers for now only: a look back has none.
            team, trouble = external_alerts(session)
            alerts += _one_per_alert(team)
            problems += trouble
    try:
        conn = session.store()
    except LlmdeckError:
        conn = None
    if conn is not None:
        try:
            with _record_lock:  # the session's one connection, shared by the banner and screens
                alerts = _record(conn, session, board, alerts, live)
        except sqlite3.Error as exc:
            problems.append(f"alert history not recorded: {exc}")
    alerts.sort(key=Alert.rank)
    return replace(board, alerts=tuple(alerts), problems=tuple(problems))


def _record(
    conn: sqlite3.Connection, session: Session, board: Board, alerts: list[Alert], live: bool
) -> list[Alert]:
    if live:
        cfg = alert_settings(session.profile.settings)
        lifecycle.record(conn, alerts, board.at, cfg.pending_for)
    return lifecycle.decorate(conn, alerts)


_suspects: weakref.WeakKeyDictionary[Session, dict[tuple[str, str], str]] = (
    weakref.WeakKeyDictionary()
)


def top_suspect(session: Session, alert: Alert) -> str:
    """The evidence line of ``alert``'s top suspect ("" when none), ranked once
    per alert run: a suspect is about what happened before the onset."""
    from console.alerts import suspects

    key = (alert.key, "" if alert.onset is None else alert.onset.isoformat())
    cache = _suspects.setdefault(session, {})
    if key not in cache:
        try:
            ranked = suspects.rank(session, alert)
        except (ConnectorError, LlmdeckError, ValueError, sqlite3.Error):
            ranked = []
        cache[key] = ranked[0].evidence if ranked else ""
    return cache[key]
