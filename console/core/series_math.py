"""Totals and weighted averages over MetricSeries, shared by cost, budgets and SLOs.

Works on any MetricsSource (workspace or Prometheus) through ``series``, so the
figures are the ones the charts show.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from connectors.base import MetricsSource
from connectors.records import MetricSeries

# Per-step units of the signals: rates per minute, cost per hour.
PER_SECONDS = {"requests": 60.0, "tokens_in": 60.0, "tokens_out": 60.0, "cost": 3600.0}


def step_for_window(start: datetime, end: datetime) -> int:
    """Minutes up to 6 h, hours beyond (the workspace answers those from its
    hourly rollup: a 24 h SLO period costs milliseconds, not a third of a second)."""
    span = (end - start).total_seconds()
    return 60 if span <= 6 * 3600 else 3600


def key(series: MetricSeries, group_by: str) -> str:
    return "" if group_by == "none" else str(series.labels.get(group_by, ""))


def totals(
    metrics: MetricsSource, signal: str, start: datetime, end: datetime, group_by: str
) -> dict[str, float]:
    """The total of a counted signal (requests, tokens, dollars) per group over [start, end)."""
    step = step_for_window(start, end)
    unit = PER_SECONDS[signal]
    out: dict[str, float] = {}
    for s in metrics.series(signal, start, end, step, group_by):
        out[key(s, group_by)] = sum(v for _, v in s.points if not math.isnan(v)) * step / unit
    return out


def weighted(
    metrics: MetricsSource,
    signal: str,
    start: datetime,
    end: datetime,
    group_by: str,
    transform: Callable[[float], float] = lambda v: v,
    step_s: int | None = None,
) -> dict[str, tuple[float | None, float]]:
    """Request-weighted mean of ``transform(signal)`` per group, and the request count.

    ``transform`` turns a per-step value into what is averaged (for example
    1.0 when a step's p95 broke its objective). ``step_s`` fixes the step (seconds);
    by default it follows the window (``step_for_window``).
    """
    step = step_s or step_for_window(start, end)
    weights = {
        key(s, group_by): dict(s.points)
        for s in metrics.series("requests", start, end, step, group_by)
    }
    out: dict[str, tuple[float | None, float]] = {}
    for s in metrics.series(signal, start, end, step, group_by):
        w = weights.get(key(s, group_by), {})
        num = den = 0.0
        for t, v in s.points:
            n = w.get(t, 0.0) * step / 60
            if math.isnan(v) or n <= 0:
                continue
            num += transform(v) * n
            den += n
        out[key(s, group_by)] = (num / den if den else None, den)
    return out
