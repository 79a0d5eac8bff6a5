"""Behaviour error budgets: SLOs per route with budget left and burn rates.

Profile settings::

    slos:
      /support/chat: {refusal_rate: 0.02, error_rate: 0.01, p95_latency_ms: 2000,
                      eval_pass_ratio: 0.9, period: 24h}

A rate objective ("refusal rate below 2%") allows that share of bad requests:
its burn rate over a window is the observed rate divided by the objective
(1.0 spends the budget exactly over the period). ``eval_pass_ratio`` at least
0.9 allows 10% failing evaluations. ``p95_latency_ms`` T allows 5% of requests
slower than T (read off the latency histogram), as the burn-rate alerts do.
Burn rates are read over 1 h and 6 h, as the
multi-window alerts of the SRE workbook do: both windows above 1 means a
sustained burn, not a blip.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.base import MetricsSource
from console.core.errors import ConfigError
from console.core.series_math import key as group_key
from console.core.series_math import step_for_window, weighted
from console.core.settings import OBJECTIVES
from console.core.spans import parse_span

LATENCY_ALLOWED_BAD = 0.05
WINDOWS = (("1h", timedelta(hours=1)), ("6h", timedelta(hours=6)))


@dataclass(frozen=True)
class SloStatus:
    """One objective of one route now."""

    route: str
    objective: str
    target: float
    observed: float | None  # over the period: the rate, pass ratio or bad-minute share
    budget_left: float | None  # fraction of the period's budget left (negative: overspent)
    burn_1h: float | None
    burn_6h: float | None
    status: str  # ok, burning, exhausted, not measured
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _span(text: str) -> timedelta:
    try:
        return parse_span(str(text))
    except ValueError as exc:
        raise ConfigError(f"slos: period: {exc}") from None


def _bad_share(
    metrics: MetricsSource, key: str, target: float, route: str, start: datetime, end: datetime
) -> tuple[float | None, float]:
    """(bad share, allowed share) for one objective over [start, end)."""
    signal = OBJECTIVES[key][0]
    if key == "p95_latency_ms":
        # The share of requests slower than the objective, read off the latency
        # histogram: the same bad share the burn-rate alerts judge
        # (console/core/alert_rules.py), so the panel and the alert agree.
        return _slow_share(metrics, target, route, start, end), LATENCY_ALLOWED_BAD
    value = weighted(metrics, signal, start, end, "route").get(route, (None, 0.0))[0]
    if key == "eval_pass_ratio":
        return (None if value is None else 1 - value), 1 - target
    return value, target


def _slow_share(
    metrics: MetricsSource, target: float, route: str, start: datetime, end: datetime
) -> float | None:
    step = step_for_window(start, end)
    weights = {
        group_key(s, "route"): dict(s.points)
        for s in metrics.series("requests", start, end, step, "route")
    }
    num = den = 0.0
    for s in metrics.slow_share(target, start, end, step, "route"):
        if group_key(s, "route") != route:
            continue
        w = weights.get(route, {})
        for t, v in s.points:
            n = w.get(t, 0.0) * step / 60
            if n > 0 and not math.isnan(v):
                num += v * n
                den += n
    return num / den if den else None


def evaluate(metrics: MetricsSource, settings: dict[str, Any], now: datetime) -> list[SloStatus]:
    """Every configured objective, worst first. Raises ConfigError for a bad section."""
    out = []
    for route, spec in (settings.get("slos") or {}).items():
        if str(route).startswith("prompt "):
            continue  # judged per version by the alert engine (console/alerts/engine.py)
        if not isinstance(spec, dict):
            raise ConfigError(f"slos.{route}: expected a mapping of objectives")
        period = _span(spec.get("period", "24h"))
        for key, target in spec.items():
            if key == "period":
                continue
            if key not in OBJECTIVES:
                raise ConfigError(
                    f"slos.{route}.{key}: unknown objective ({', '.join(OBJECTIVES)})"
                )
            try:
                target = float(target)
            except (TypeError, ValueError):
                raise ConfigError(f"slos.{route}.{key}: expected a number") from None
            out.append(_one(metrics, str(route), key, target, period, now))
    rank = {"exhausted": 0, "burning": 1, "ok": 2, "not measured": 3}
    return sorted(out, key=lambda s: (rank[s.status], -(s.burn_1h or 0)))


def _one(
    metrics: MetricsSource, route: str, key: str, target: float, period: timedelta, now: datetime
) -> SloStatus:
    try:
        observed, allowed = _bad_share(metrics, key, target, route, now - period, now)
        burns = [_bad_share(metrics, key, target, route, now - w, now)[0] for _, w in WINDOWS]
    except ValueError as exc:  # the metrics source has no such signal
        return SloStatus(route, key, target, None, None, None, None, "not measured", str(exc))
    if allowed <= 0:
        raise ConfigError(f"slos.{route}.{key}: objective leaves no error budget")
    b1, b6 = (None if b is None else b / allowed for b in burns)
    left = None if observed is None else 1 - observed / allowed
    if left is None:
        status = "not measured"
    elif left <= 0:
        status = "exhausted"
    elif (b1 or 0) > 1 and (b6 or 0) > 1:
        status = "burning"
    else:
        status = "ok"
    shown = observed if key != "eval_pass_ratio" or observed is None else 1 - observed
    return SloStatus(route, key, target, shown, left, b1, b6, status)
