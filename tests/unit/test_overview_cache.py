"""The incremental series cache gives exactly the figures of a full query."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import SIGNALS
from connectors.metrics.workspace import WorkspaceMetrics
from console.core.series_cache import CachedMetrics
from tests.conftest import FIXED_NOW


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


@pytest.mark.parametrize(("span", "step"), [(timedelta(hours=1), 60), (timedelta(hours=24), 900)])
def test_incremental_equals_full_query(demo_dir: Path, span: timedelta, step: int) -> None:
    raw = WorkspaceMetrics(path=demo_dir / "store.db")
    cached = CachedMetrics(raw)
    # The clock moves on between refreshes (by odd amounts, not step-aligned).
    ends = [
        FIXED_NOW - timedelta(minutes=47, seconds=13),
        FIXED_NOW - timedelta(minutes=20, seconds=7),
        FIXED_NOW,
    ]
    for group in ("none", "prompt_version"):
        for end in ends:
            start = end - span
            aligned = start - timedelta(seconds=int(start.timestamp()) % step)
            for signal in SIGNALS:
                got = cached.series(signal, start, end, step, group)
                want = raw.series(signal, aligned, end, step, group)
                assert [s.labels for s in got] == [s.labels for s in want]
                for g, w in zip(got, want, strict=True):
                    assert [t for t, _ in g.points] == [t for t, _ in w.points]
                    assert all(
                        same(a, b) for (_, a), (_, b) in zip(g.points, w.points, strict=True)
                    )
    assert cached.tail_queries > cached.full_queries  # later refreshes read only the tail


def test_late_records_are_read_again(demo_copy: Path) -> None:
    import sqlite3

    from connectors.workspace.schema import REQUEST_COLUMNS
    from connectors.workspace.store import insert_rows

    db = demo_copy / "store.db"
    raw = WorkspaceMetrics(path=db)
    cached = CachedMetrics(raw)
    start, end = FIXED_NOW - timedelta(hours=6), FIXED_NOW
    before = cached.series("requests", start, end, 300)
    # 500 requests land now, stamped three hours ago (a backfill, the demo's gap fill)
    conn = sqlite3.connect(db)
    late = int((FIXED_NOW - timedelta(hours=3)).timestamp() * 1000)
    rows = conn.execute(f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests LIMIT 500").fetchall()
    rows = [(f"late-{i}", late + i, *row[2:]) for i, row in enumerate(rows)]
    assert insert_rows(conn, rows) == 500
    conn.close()
    cached._watched_at = 0.0  # the watch looks at most once a second
    after = cached.series("requests", start, end, 300)
    want = raw.series("requests", start, end, 300)
    assert [p for p in after[0].points] == [p for p in want[0].points]
    assert sum(v for _, v in after[0].points) == pytest.approx(
        sum(v for _, v in before[0].points) + 500 * 60 / 300
    )
