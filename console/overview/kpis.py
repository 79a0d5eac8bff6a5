"""The KPI strip's figures: what the Overview shows and ``llmdeck metrics`` prints.

Each card carries a severity (ok, warn, bad) so the cause of an incident stands
out at the default range without paging through ranges: a figure is judged
against the profile's SLOs for it (an SLO burning or exhausted on any route) and
against its own baseline, the day before the range. Only rates and latency are
judged: traffic volume (and cost, which follows it) goes both ways and stays ``ok``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from connectors.records import Kpis
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.core.spans import TimeRange

Severity = Literal["ok", "warn", "bad"]
_ORDER: dict[Severity, int] = {"ok": 0, "warn": 1, "bad": 2}

# The baseline is the span before the range, at least a day long: long enough to
# smooth the daily cycle of a 1 h range, short enough to reflect the current normal.
BASELINE_MIN = timedelta(hours=24)
# (severity, ratio to the baseline, absolute rise) that makes a rate warn / bad. The
# rise keeps 0.1% -> 0.3% on a quiet fleet from lighting up; 1.5x and one point on
# the whole fleet is what a canary gone wrong on one route looks like.
RATE_LEVELS: tuple[tuple[Severity, float, float], ...] = (("warn", 1.2, 0.005), ("bad", 1.5, 0.01))
LATENCY_LEVELS: tuple[tuple[Severity, float], ...] = (("warn", 1.2), ("bad", 1.5))
RATE_KEYS = ("error_rate", "block_rate", "refusal_rate")
# Cost per hour is not judged against the baseline: it follows traffic volume
# (the daily cycle doubles it), which is the budgets panel's business.
# SLO objective (console/overview/slo.py) -> the card it judges.
SLO_KEYS = {
    "refusal_rate": "refusal_rate",
    "error_rate": "error_rate",
    "block_rate": "block_rate",
    "p95_latency_ms": "latency_p95_ms",
}
SLO_SEVERITY: dict[str, Severity] = {"exhausted": "bad", "burning": "warn"}


@dataclass(frozen=True)
class KpiCard:
    """One figure ready to draw: its label, formatted value and raw value, its
    severity and why (empty when ok). ``estimate``: the value is read off a
    histogram, not counted (the text starts with "~")."""

    key: str
    label: str
    text: str
    value: float | None
    severity: Severity = "ok"
    why: str = ""
    estimate: bool = False


@dataclass(frozen=True)
class KpiFrame:
    """The KPIs over the range, the same figures over the baseline window (None when
    that could not be read) and the SLO statuses as (route, objective, status)."""

    kpis: Kpis
    baseline: Kpis | None = None
    slos: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)


def load(session: Session, rng: TimeRange) -> Kpis:
    """The KPIs over ``rng`` ending at the view time (now, or ``--at``).
    Raises LlmdeckError or a ConnectorError."""
    metrics = session.metrics()
    if metrics is None:
        raise LlmdeckError("no metrics connector in this profile")
    start, end = session.view.window(rng)
    return metrics.kpis(start, end)


def load_frame(session: Session, rng: TimeRange) -> KpiFrame:
    """The KPIs with what judges them. Raises as ``load`` for the KPIs themselves;
    a baseline or SLO that cannot be read only leaves the cards unjudged by it."""
    from connectors.errors import ConnectorError
    from console.overview import slo
    from console.overview.series_cache import metrics_source  # the SLO figures the Overview shows

    k = load(session, rng)
    metrics = metrics_source(session)
    span = max(k.end - k.start, BASELINE_MIN)
    try:
        baseline: Kpis | None = metrics.kpis(k.start - span, k.start)
    except (ConnectorError, ValueError):
        baseline = None
    try:
        states = tuple(
            (s.route, s.objective, s.status)
            for s in slo.evaluate(metrics, session.profile.settings, k.end)
        )
    except (ConnectorError, LlmdeckError, ValueError):
        states = ()
    return KpiFrame(k, baseline, states)


def invalid_rate(v: float | None) -> str:
    """Why ``v`` cannot be a rate (a fraction in [0, 1]); empty when it can. A
    backend's PromQL or a bad exporter can answer 130% or -5%: that is shown as
    invalid with this reason, never as a figure."""
    if v is None:
        return ""
    if math.isnan(v):
        return "backend answered NaN: not a rate"
    if 0.0 <= v <= 1.0:
        return ""
    return f"backend answered {v * 100:.4g}%: not a rate"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _num(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:.1f}M"
    if v >= 10_000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _worse(a: tuple[Severity, str], b: tuple[Severity, str]) -> tuple[Severity, str]:
    return b if _ORDER[b[0]] > _ORDER[a[0]] else a


def judge(
    key: str, value: float | None, base: float | None, slos: tuple[tuple[str, str, str], ...]
) -> tuple[Severity, str]:
    """(severity, why) of one figure against its SLOs and its baseline value."""
    out: tuple[Severity, str] = ("ok", "")
    for route, objective, status in slos:
        if SLO_KEYS.get(objective) == key and status in SLO_SEVERITY:
            out = _worse(out, (SLO_SEVERITY[status], f"SLO {status} on {route}"))
    if value is None or base is None or base <= 0:
        return out
    ratio = value / base
    why = f"{ratio:.1f}x the day before"
    if key in RATE_KEYS:
        for sev, limit, floor in RATE_LEVELS:
            if ratio >= limit and value - base >= floor:
                out = _worse(out, (sev, why))
    elif key == "latency_p95_ms":
        for sev, limit in LATENCY_LEVELS:
            if ratio >= limit:
                out = _worse(out, (sev, why))
    return out


def cards(k: Kpis | KpiFrame) -> list[KpiCard]:
    """The strip's cards, in display order; judged when given a KpiFrame."""
    frame = k if isinstance(k, KpiFrame) else KpiFrame(k)
    k, b = frame.kpis, frame.baseline
    p95 = k.latency_p95_ms
    plain = [
        KpiCard("requests_per_min", "req/min", _num(k.requests_per_min), k.requests_per_min),
        KpiCard("tokens_in_per_min", "tok in/min", _num(k.tokens_in_per_min), k.tokens_in_per_min),
        KpiCard(
            "tokens_out_per_min", "tok out/min", _num(k.tokens_out_per_min), k.tokens_out_per_min
        ),
        KpiCard("cost_per_hour", "cost/hour", f"${k.cost_per_hour:,.2f}", k.cost_per_hour),
        # From histogram buckets (workspace rollups, Prometheus): an estimate.
        KpiCard(
            "latency_p95_ms",
            "p95 latency",
            "-" if p95 is None else f"~{p95:,.0f} ms",
            p95,
            estimate=True,
        ),
        KpiCard("error_rate", "errors", _pct(k.error_rate), k.error_rate),
        KpiCard("block_rate", "safety blocks", _pct(k.block_rate), k.block_rate),
        KpiCard("refusal_rate", "refusals", _pct(k.refusal_rate), k.refusal_rate),
    ]
    out = []
    for c in plain:
        base = None if b is None else getattr(b, c.key)
        if c.key in RATE_KEYS:
            if invalid_rate(base):
                base = None  # a baseline that is not a rate judges nothing
            if reason := invalid_rate(c.value):
                out.append(KpiCard(c.key, c.label, "invalid", None, "bad", reason))
                continue
        severity, why = judge(c.key, c.value, base, frame.slos)
        out.append(KpiCard(c.key, c.label, c.text, c.value, severity, why, c.estimate))
    return out
