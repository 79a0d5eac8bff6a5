"""Writes into the workspace store: request records (with their full-text
index and rollups), audit entries and history snapshots.

Request rows are inserted with ``INSERT OR IGNORE`` on the request id, so
loading the same records twice adds nothing. The full-text index and the
per-minute and per-hour rollups are then brought up to date from the rows
that were really added (``rowid`` above the previous maximum), in SQL.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from connectors.records import RequestRecord
from connectors.workspace.schema import LATENCY_BOUNDS_MS, REQUEST_COLUMNS, ROLLUP_DIMS

_JSON_COLUMNS = frozenset({"params", "variables", "messages", "retrieval", "tools", "safety"})
_INSERT = (
    f"INSERT OR IGNORE INTO requests ({', '.join(f'[{c}]' for c in REQUEST_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})"
)


def ts_ms(ts: datetime) -> int:
    """Unix milliseconds of an aware datetime (naive ones are taken as UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return int(ts.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class UnstorableRecord(ValueError):
    """A record SQLite cannot hold; the message names the column, never the value."""


def record_row(rec: RequestRecord) -> tuple[Any, ...]:
    """The ``requests`` row of a record, JSON columns serialised.

    Raises UnstorableRecord when a JSON column cannot be encoded (nested
    deeper than orjson's 254 levels, an integer beyond 64 bits, a non-JSON
    value) or an integer column is outside SQLite's signed 64-bit range.
    """
    out: list[Any] = []
    for col in REQUEST_COLUMNS:
        value = getattr(rec, col)
        if col == "ts":
            value = ts_ms(value)
        elif col in _JSON_COLUMNS:
            try:
                value = None if value is None else orjson.dumps(value).decode()
            except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is a TypeError
                why = "nested too deep" if "ecursion" in str(exc) else "not storable as JSON"
                raise UnstorableRecord(f"{col}: {why}") from None
        elif (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not (-(2**63) <= value < 2**63)
        ):
            raise UnstorableRecord(f"{col}: integer too large to store")
        elif col == "refusal":
            value = int(value)
        out.append(value)
    return tuple(out)


def _rollup_sql(table: str, size_ms: int) -> str:
    dims = ", ".join(ROLLUP_DIMS)
    lat = []
    lo = "-1e308"
    for i, hi in enumerate((*LATENCY_BOUNDS_MS, None)):
        cond = f"latency_ms > {lo}" + (f" AND latency_ms <= {hi}" if hi is not None else "")
        lat.append(f"SUM({cond}) AS lat_{i}")
        lo = str(hi)
    lat_names = [f"lat_{i}" for i in range(len(LATENCY_BOUNDS_MS) + 1)]
    sums = (
        "n",
        "tokens_in",
        "tokens_out",
        "cost_usd",
        "errors",
        "timeouts",
        "blocks",
        "refusals",
        "latency_sum",
        *lat_names,
    )
    updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in sums)
    return (
        f"INSERT INTO {table} (bucket, {dims}, {', '.join(sums)}) "
        f"SELECT (ts / {size_ms}) * {size_ms // 1000} AS bucket, {dims}, COUNT(*), "
        "SUM(tokens_in), SUM(tokens_out), SUM(cost_usd), SUM(status = 'error'), "
        "SUM(status = 'timeout'), SUM(status = 'blocked'), SUM(refusal), SUM(latency_ms), "
        f"{', '.join(lat)} FROM requests WHERE rowid > ? GROUP BY 1, {dims} "
        f"ON CONFLICT DO UPDATE SET {updates}"
    )


_ROLLUP_MINUTE = _rollup_sql("rollup_minute", 60_000)
_ROLLUP_HOUR = _rollup_sql("rollup_hour", 3_600_000)
_FTS = (
    "INSERT INTO requests_fts (rowid, prompt_text, output) "
    "SELECT rowid, (SELECT group_concat(json_extract(value, '$.content'), ' ') "
    "FROM json_each(messages)), output FROM requests WHERE rowid > ?"
)


def insert_rows(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert request rows (``record_row`` tuples) in one transaction.

    Returns how many were new. Duplicates by request id are skipped.
    """
    if not rows:
        return 0
    with conn:
        last = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM requests").fetchone()[0]
        before = conn.total_changes
        conn.executemany(_INSERT, rows)
        added = conn.total_changes - before
        if added:
            conn.execute(_FTS, (last,))
            conn.execute(_ROLLUP_MINUTE, (last,))
            conn.execute(_ROLLUP_HOUR, (last,))
    return added


def insert_row_probe(conn: sqlite3.Connection, row: tuple[Any, ...]) -> str:
    """Try ``row`` in a savepoint that is always rolled back.

    Returns "" when it would insert, else the kind of error (no value), so a
    caller can single out the rows of a failed batch.
    """
    conn.execute("SAVEPOINT probe")
    try:
        conn.execute(_INSERT, row)
    except (OverflowError, ValueError, sqlite3.Error) as exc:
        return type(exc).__name__
    finally:
        conn.execute("ROLLBACK TO probe")
        conn.execute("RELEASE probe")
    return ""


def insert_records(conn: sqlite3.Connection, records: Iterable[RequestRecord]) -> int:
    """Insert canonical records; returns how many were new."""
    return insert_rows(conn, [record_row(r) for r in records])


def append_audit(conn: sqlite3.Connection, entry: Mapping[str, Any]) -> int:
    """Append one audit row (keys as the ``audit`` table); returns its id."""
    row = dict(entry)
    for key in ("before", "after"):
        row[key] = orjson.dumps(row.get(key)).decode()
    cols = (
        "ts",
        "who",
        "profile",
        "environment",
        "action",
        "target",
        "outcome",
        "before",
        "after",
        "reason",
        "detail",
    )
    with conn:
        cur = conn.execute(
            f"INSERT INTO audit ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            tuple(row.get(c, "") for c in cols),
        )
    return int(cur.lastrowid or 0)


def snapshot_history(
    conn: sqlite3.Connection,
    kind: str,
    source: str,
    key: str,
    state: Any,
    at: datetime | None = None,
) -> bool:
    """Record ``state`` of ``key`` (an alias map, a flag) if it changed since the last
    snapshot. Returns True when a new snapshot was written."""
    encoded = orjson.dumps(state, option=orjson.OPT_SORT_KEYS).decode()
    last = conn.execute(
        "SELECT state FROM history WHERE kind = ? AND key = ? ORDER BY ts DESC, id DESC LIMIT 1",
        (kind, key),
    ).fetchone()
    if last and last[0] == encoded:
        return False
    with conn:
        conn.execute(
            "INSERT INTO history (ts, kind, source, key, state) VALUES (?, ?, ?, ?, ?)",
            (ts_ms(at) if at else int(time.time() * 1000), kind, source, key, encoded),
        )
    return True
