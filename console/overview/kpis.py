"""The KPI strip's figures: what the Overview shows and ``llmdeck metrics`` prints.

Each card carries a severity (ok, warn, bad) so the cause of an incident stands
out at the default range without paging through ranges. A figure that an alert
rule of the profile covers takes its colour from the alert state (a firing page
is bad, a ticket or a pending page warns, nothing active is ok); any other
figure is judged against the SLO statuses and its own baseline, the day before
the range. Only rates and latency are
judged: traffic volume (and cost, which follows it) goes both ways and stays ``ok``.
A card whose signal stopped arriving before the range began says "no data since
HH:MM" instead of a 0.0 or "-" that reads like a quiet hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from connectors.records import Kpis
from console.alerts.absence import Freshness, no_data_text
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
# The cards in display order, and the signal (connectors.base.SIGNALS) behind each.
CARD_SIGNALS: dict[str, str] = {
    "requests_per_min": "requests",
    "tokens_in_per_min": "tokens_in",
    "tokens_out_per_min": "tokens_out",
    "cost_per_hour": "cost",
    "latency_p95_ms": "latency_p95",
    "error_rate": "error_rate",
    "block_rate": "block_rate",
    "refusal_rate": "refusal_rate",
}
CARD_KEYS: tuple[str, ...] = tuple(CARD_SIGNALS)


@dataclass(frozen=True)
class KpiCard:
    """One figure ready to draw: its label, formatted value and raw value, its
    severity and why (empty when ok). ``estimate``: the value is read off a
    histogram, not counted (the text starts with "~"). ``since``: the signal
    stopped then, before the range began; the text says "no data since HH:MM"
    and ``value`` is None."""

    key: str
    label: str
    text: str
    value: float | None
    severity: Severity = "ok"
    why: str = ""
    estimate: bool = False
    since: datetime | None = None


@dataclass(frozen=True)
class KpiFrame:
    """The KPIs over the range, the same figures over the baseline window (None when
    that could not be read), the SLO statuses as (route, objective, status), and
    when each signal last had data (None when that could not be read)."""

    kpis: Kpis
    baseline: Kpis | None = None
    slos: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    # From the alert engine: (card key, severity, why) per active alert, and the
    # cards some alert rule covers (their colour is the alert state, nothing else).
    alerts: tuple[tuple[str, Severity, str], ...] = field(default_factory=tuple)
    covered: frozenset[str] = frozenset()
    fresh: Freshness | None = None


def load(session: Session, rng: TimeRange) -> Kpis:
    """The KPIs over ``rng`` ending at the view time (now, or ``--at``).
    Raises LlmdeckError or a ConnectorError."""
    metrics = session.metrics()
    if metrics is None:
        raise LlmdeckError("no metrics connector in this profile")
    start, end = session.view.window(rng)
    return metrics.kpis(start, end)


def load_frame(session: Session, rng: TimeRange, fresh: Freshness | None = None) -> KpiFrame:
    """The KPIs with what judges them. Raises as ``load`` for the KPIs themselves;
    a baseline, SLO or newest-data reading that cannot be read only leaves the
    cards unjudged by it. ``fresh``: a reading the caller already has."""
    from connectors.errors import ConnectorError
    from console.core.series_cache import metrics_source  # the SLO figures the Overview shows
    from console.overview import freshness, slo

    k = load(session, rng)
    metrics = metrics_source(session)
    if fresh is None:
        fresh, _ = freshness.read(session, metrics, k.end)
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
    alerts, covered = alert_marks(session, k.end)
    return KpiFrame(k, baseline, states, alerts, covered, fresh)


# Card -> the Overview panels that draw its signal (coloured with it).
CARD_PANELS = {
    "refusal_rate": ("rates", "refusals"),
    "error_rate": ("rates",),
    "block_rate": ("rates",),
    "latency_p95_ms": ("latency",),
    "cost_per_hour": ("cost",),
}


def panels_of(card: str) -> tuple[str, ...]:
    return CARD_PANELS.get(card, ())


# Alert objective -> the card it colours.
ALERT_CARDS = {**SLO_KEYS, "spend": "cost_per_hour"}


def alert_marks(
    session: Session, at: datetime
) -> tuple[tuple[tuple[str, Severity, str], ...], frozenset[str]]:
    """What the alert engine says of each card at ``at``: a firing page makes it
    bad, a firing ticket or a pending page warn. A card no rule covers is left
    to the baseline. Never raises: an engine that fails colours nothing."""
    from connectors.errors import ConnectorError
    from console.alerts import engine
    from console.core.alert_rules import rules

    try:
        covered = frozenset(
            ALERT_CARDS[r.objective]
            for r in rules(session.profile.settings)
            if r.objective in ALERT_CARDS
        )
        board = engine.evaluate(session, at)
    except (ConnectorError, LlmdeckError, ValueError):
        return (), frozenset()
    out: list[tuple[str, Severity, str]] = []
    for a in board.alerts:
        card = ALERT_CARDS.get(a.labels.get("objective", ""))
        if card is None or a.state == "resolved" or a.silenced(board.at):
            continue
        if a.state == "firing" and a.severity == "page":
            out.append((card, "bad", f"PAGE · {a.title}"))
        elif a.state == "firing":
            out.append((card, "warn", f"TICKET · {a.title}"))
        else:
            out.append((card, "warn", f"pending · {a.title}"))
    return tuple(out), covered


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
        if failed := k.errors.get(c.key):
            out.append(KpiCard(c.key, c.label, "error", None, "bad", f"backend error: {failed}"))
            continue
        since = frame.fresh.empty_since(CARD_SIGNALS[c.key], k.start) if frame.fresh else None
        if since is not None:
            text = no_data_text(since, k.end)
            out.append(KpiCard(c.key, c.label, text, None, "warn", text, since=since))
            continue
        base = None if b is None else getattr(b, c.key)
        if c.key in RATE_KEYS:
            if invalid_rate(base):
                base = None  # a baseline that is not a rate judges nothing
            if reason := invalid_rate(c.value):
                out.append(KpiCard(c.key, c.label, "invalid", None, "bad", reason))
                continue
        severity: Severity
        if c.key in frame.covered:
            severity, why = "ok", ""
            for card, sev, reason in frame.alerts:
                if card == c.key:
                    severity, why = _worse((severity, why), (sev, reason))
        else:
            severity, why = judge(c.key, c.value, base, frame.slos)
        out.append(KpiCard(c.key, c.label, c.text, c.value, severity, why, c.estimate))
    return out
