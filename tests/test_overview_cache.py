"""The incremental series cache gives exactly the figures of a full query."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import SIGNALS
from connectors.workspace.metrics import WorkspaceMetrics
from console.series_cache import CachedMetrics
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
