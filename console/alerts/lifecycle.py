"""Alert states and transitions kept in the workspace (tables ``alerts`` and
``alert_events``), so the incident timeline and the postmortem see when each
alert went pending, fired and resolved, and who acknowledged or silenced it.

The engine derives each alert's state from the data; this module only records
what changed since the last evaluation. Transitions are stamped with the time
they happened in the data (onset, onset plus the pending time, end), not with
the time a console noticed, so two consoles, or one started late, write the
same timeline; a transition already recorded is never written twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from connectors.workspace.store import from_ms, ts_ms
from console.alerts.model import Alert


def _events_for(alert: Alert, pending_for: timedelta) -> list[tuple[datetime, str]]:
    """The transitions ``alert``'s current run went through, with their times."""
    assert alert.onset is not None
    out = [(alert.onset, "pending")]
    if alert.state in ("firing", "resolved"):
        fired = alert.onset + pending_for
        if alert.ended is None or fired < alert.ended:
            out.append((fired, "firing"))
    if alert.state == "resolved" and alert.ended is not None:
        out.append((alert.ended, "resolved"))
    return out


def record(
    conn: sqlite3.Connection, alerts: Iterable[Alert], now: datetime, pending_for: timedelta
) -> int:
    """Store the alerts' states and append the transitions not yet recorded.
    Returns how many events were appended. An active alert that the engine no
    longer reports (its rule was removed, or it left the trace) is resolved now."""
    seen: set[str] = set()
    appended = 0
    with conn:
        for a in alerts:
            if a.kind == "external" or a.onset is None:
                continue
            seen.add(a.key)
            known = {
                (ts, event)
                for ts, event in conn.execute(
                    "SELECT ts, event FROM alert_events WHERE key = ? AND ts >= ?",
                    (a.key, ts_ms(a.onset)),
                )
            }
            for ts, event in _events_for(a, pending_for):
                if (ts_ms(ts), event) not in known and ts <= now:
                    conn.execute(
                        "INSERT INTO alert_events (ts, key, event, severity, title, detail) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (ts_ms(ts), a.key, event, a.severity, a.title, json.dumps(a.to_dict())),
                    )
                    appended += 1
            conn.execute(
                "INSERT INTO alerts (key, kind, severity, state, title, labels, onset, ended, "
                "updated, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET kind=excluded.kind, severity=excluded.severity, "
                "state=excluded.state, title=excluded.title, labels=excluded.labels, "
                "onset=excluded.onset, ended=excluded.ended, updated=excluded.updated, "
                "detail=excluded.detail",
                (
                    a.key,
                    a.kind,
                    a.severity,
                    a.state,
                    a.title,
                    json.dumps(a.labels, sort_keys=True),
                    ts_ms(a.onset),
                    None if a.ended is None else ts_ms(a.ended),
                    ts_ms(now),
                    json.dumps({"burn": a.burn, "detail": a.detail}),
                ),
            )
        for key, severity, title in conn.execute(
            "SELECT key, severity, title FROM alerts "
            "WHERE state != 'resolved' AND kind != 'external'"
        ).fetchall():
            if key not in seen:
                conn.execute(
                    "UPDATE alerts SET state = 'resolved', ended = ?, updated = ? WHERE key = ?",
                    (ts_ms(now), ts_ms(now), key),
                )
                conn.execute(
                    "INSERT INTO alert_events (ts, key, event, severity, title, detail) "
                    "VALUES (?, ?, 'resolved', ?, ?, '{}')",
                    (ts_ms(now), key, severity, title),
                )
                appended += 1
    return appended


def decorate(conn: sqlite3.Connection, alerts: Iterable[Alert]) -> list[Alert]:
    """The alerts with who acknowledged them and until when they are silenced."""
    marks = {
        key: (acked_by or "", silenced)
        for key, acked_by, silenced in conn.execute(
            "SELECT key, acked_by, silenced_until FROM alerts "
            "WHERE acked_by IS NOT NULL OR silenced_until IS NOT NULL"
        )
    }
    out = []
    for a in alerts:
        if a.key in marks:
            who, until = marks[a.key]
            a = replace(a, acked_by=who, silenced_until=None if until is None else from_ms(until))
        out.append(a)
    return out


def events(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[dict[str, object]]:
    """Alert transitions in [start, end), oldest first."""
    rows = conn.execute(
        "SELECT ts, key, event, severity, title FROM alert_events WHERE ts >= ? AND ts < ? "
        "ORDER BY ts, id",
        (ts_ms(start), ts_ms(end)),
    ).fetchall()
    return [
        {"ts": from_ms(ts), "key": key, "event": event, "severity": sev, "title": title}
        for ts, key, event, sev, title in rows
    ]
