"""Lineage: which prompt version x model x digest x retrieval index x policy served traffic.

Counts come from one GROUP BY over the ``(prompt_version, ts)`` index. The
retrieval index and the policy version live in JSON columns stored after the
message text, so each matching row costs a read (about 8 µs): a week of a
busy prompt is seconds. Whole hours are therefore cached per hour, and a
cached hour is reused only while the hourly rollup still counts the same
requests for it (late ingest into an old hour invalidates just that hour).
Partial hours at either end are always read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from connectors.workspace.store import ts_ms

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class LineageRow:
    """A combination that served traffic in the range, and how many requests."""

    prompt_version: str
    model_name: str
    model_digest: str
    index_snapshot: str
    policy_version: str
    requests: int


Combo = tuple[str, str, str, str, str]


def _read(
    conn: sqlite3.Connection, prompt_id: str, versions: Sequence[str], lo: int, hi: int
) -> dict[int, dict[Combo, int]]:
    """Counts per hour (ms bucket) and combination for ts in [lo, hi)."""
    marks = ", ".join("?" * len(versions))
    rows = conn.execute(
        f"SELECT ts / {HOUR_MS}, prompt_version, model_name, model_digest, "
        "COALESCE(json_extract(retrieval, '$.index_snapshot'), ''), "
        "COALESCE(json_extract(safety, '$.policy_version'), ''), COUNT(*) "
        f"FROM requests WHERE prompt_version IN ({marks}) AND ts >= ? AND ts < ? "
        "AND prompt_id = ? GROUP BY 1, 2, 3, 4, 5, 6",
        (*versions, lo, hi, prompt_id),
    )
    out: dict[int, dict[Combo, int]] = {}
    for hour, *combo, n in rows:
        key = tuple(str(c or "") for c in combo)
        out.setdefault(int(hour) * HOUR_MS, {})[key] = int(n)  # type: ignore[index]
    return out


def _rollup_counts(
    conn: sqlite3.Connection, prompt_id: str, versions: Sequence[str], lo: int, hi: int
) -> dict[int, int]:
    marks = ", ".join("?" * len(versions))
    rows = conn.execute(
        f"SELECT bucket, SUM(n) FROM rollup_hour WHERE prompt_id = ? AND prompt_version IN "
        f"({marks}) AND bucket >= ? AND bucket < ? GROUP BY bucket",
        (prompt_id, *versions, lo // 1000, hi // 1000),
    )
    return {int(b) * 1000: int(n) for b, n in rows}


class LineageCache:
    """Whole-hour lineage counts, keyed by database, prompt and versions; thread-safe."""

    def __init__(self, max_hours: int = 50_000) -> None:
        self._hours: dict[tuple[str, str, tuple[str, ...], int], dict[Combo, int]] = {}
        self._lock = threading.Lock()
        self.max_hours = max_hours
        self.reads = 0  # hours read from the request table (for tests and benches)

    def lineage(
        self,
        conn: sqlite3.Connection,
        prompt_id: str,
        versions: Sequence[str],
        start: datetime,
        end: datetime,
    ) -> list[LineageRow]:
        """Lineage over [start, end), most requests first."""
        if not versions:
            return []
        lo, hi = ts_ms(start), ts_ms(end)
        first_hour = -(-lo // HOUR_MS) * HOUR_MS
        last_hour = hi // HOUR_MS * HOUR_MS
        vkey = tuple(sorted(versions))
        db = str(conn.execute("PRAGMA database_list").fetchone()[2])
        totals: dict[Combo, int] = {}

        def add(counts: dict[int, dict[Combo, int]]) -> None:
            for per_hour in counts.values():
                for combo, n in per_hour.items():
                    totals[combo] = totals.get(combo, 0) + n

        if first_hour >= last_hour:  # less than one whole hour: read it all
            add(_read(conn, prompt_id, versions, lo, hi))
            return _rows(totals)
        add(_read(conn, prompt_id, versions, lo, first_hour))
        add(_read(conn, prompt_id, versions, last_hour, hi))
        expected = _rollup_counts(conn, prompt_id, versions, first_hour, last_hour)
        with self._lock:
            cached = {
                h: self._hours[(db, prompt_id, vkey, h)]
                for h in expected
                if sum(self._hours.get((db, prompt_id, vkey, h), {}).values()) == expected[h]
            }
        missing = sorted(h for h in expected if h not in cached)
        fresh: dict[int, dict[Combo, int]] = {}
        for run_lo, run_hi in _runs(missing):
            fresh.update(_read(conn, prompt_id, versions, run_lo, run_hi))
        self.reads += len(missing)
        with self._lock:
            if len(self._hours) > self.max_hours:
                self._hours.clear()
            for h, counts in fresh.items():
                self._hours[(db, prompt_id, vkey, h)] = counts
        add(cached)
        add(fresh)
        return _rows(totals)


def _runs(hours: list[int]) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) ranges covering the given hour starts."""
    out: list[tuple[int, int]] = []
    for h in hours:
        if out and out[-1][1] == h:
            out[-1] = (out[-1][0], h + HOUR_MS)
        else:
            out.append((h, h + HOUR_MS))
    return out


def _rows(totals: dict[Combo, int]) -> list[LineageRow]:
    rows = [LineageRow(*combo, requests=n) for combo, n in totals.items()]
    return sorted(rows, key=lambda r: (-r.requests, r.prompt_version, r.model_name))


CACHE = LineageCache()


def lineage(
    conn: sqlite3.Connection,
    prompt_id: str,
    versions: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[LineageRow]:
    """Lineage of ``prompt_id`` over [start, end) through the process-wide hour cache."""
    return CACHE.lineage(conn, prompt_id, versions, start, end)
