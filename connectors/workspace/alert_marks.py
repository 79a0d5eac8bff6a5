"""Acknowledgements and silences of the console's own alerts, in the
workspace's ``alerts`` table: what the write pipeline reads, writes and
verifies when an operator acknowledges or silences an alert."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from connectors.workspace.store import from_ms, ts_ms


def mark(
    conn: sqlite3.Connection,
    key: str,
    *,
    who: str,
    now: datetime,
    silence_until: datetime | None = None,
) -> dict[str, object]:
    """Acknowledge (``silence_until`` None) or silence one alert; returns its new
    marks. Appends the event. Raises KeyError for an alert never recorded."""
    row = conn.execute("SELECT severity, title FROM alerts WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise KeyError(key)
    with conn:
        if silence_until is None:
            conn.execute(
                "UPDATE alerts SET acked_by = ?, acked_at = ? WHERE key = ?",
                (who, ts_ms(now), key),
            )
            event, detail = "acked", {"who": who}
        else:
            conn.execute(
                "UPDATE alerts SET silenced_until = ? WHERE key = ?", (ts_ms(silence_until), key)
            )
            event, detail = "silenced", {"who": who, "until": silence_until.isoformat()}
        conn.execute(
            "INSERT INTO alert_events (ts, key, event, severity, title, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (ts_ms(now), key, event, row[0], row[1], json.dumps(detail)),
        )
    return marks(conn, key)


def marks(conn: sqlite3.Connection, key: str) -> dict[str, object]:
    """An alert's acknowledgement and silence as the write pipeline compares them."""
    row = conn.execute(
        "SELECT acked_by, silenced_until FROM alerts WHERE key = ?", (key,)
    ).fetchone()
    if row is None:
        return {"recorded": False}
    return {
        "acked_by": row[0] or "",
        "silenced_until": None if row[1] is None else from_ms(row[1]).isoformat(),
    }
