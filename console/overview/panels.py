"""The Overview's charts: which signals each panel draws, loaded panel by panel.

A panel that fails keeps the others working: its ``error`` says why, and the
screen keeps its last good data with a stale marker. ``report`` gathers
everything the Overview shows, for ``llmdeck metrics --json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.base import MetricsSource
from connectors.errors import ConnectorError
from connectors.records import MetricSeries
from console.core.session import Session
from console.core.spans import TimeRange
from console.overview import series_cache
from console.overview.kpis import RATE_KEYS, invalid_rate


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    signals: tuple[str, ...]
    grouped: bool  # split by the selected grouping
    unit: str = ""


PANELS: tuple[Panel, ...] = (
    Panel("tokens", "tokens per minute (in, out)", ("tokens_in", "tokens_out"), False),
    Panel("cost", "cost per hour ($)", ("cost",), True, "$/h"),
    Panel("latency", "latency (ms)", ("latency_p50", "latency_p95", "latency_p99"), False, "ms"),
    Panel(
        "rates",
        "error / block / refusal rate",
        ("error_rate", "block_rate", "refusal_rate"),
        False,
        "%",
    ),
    Panel("refusals", "refusal rate by group", ("refusal_rate",), True, "%"),
    Panel("output", "output length (tokens)", ("output_tokens",), True),
)


@dataclass(frozen=True)
class Line:
    label: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PanelData:
    panel: Panel
    lines: tuple[Line, ...] = ()
    error: str | None = None
    queried: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.panel.title,
            "error": self.error,
            "series": [
                {
                    "label": ln.label,
                    "points": [[t, None if math.isnan(v) else v] for t, v in ln.points],
                }
                for ln in self.lines
            ],
        }


def _label(s: MetricSeries, panel: Panel, group_by: str) -> str:
    if panel.grouped and group_by != "none":
        return str(s.labels.get(group_by, "")) or "(none)"
    return s.name


def _check_rates(signal: str, s: MetricSeries) -> None:
    """Raise ValueError naming the signal when a point of a rate series is outside
    [0, 1]: the panel shows why instead of a line at 130%. NaN is a gap, not a value."""
    for t, v in s.points:
        if not math.isnan(v) and (reason := invalid_rate(v)):
            at = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            raise ValueError(f"{signal}: {reason} (at {at})")


def load_panel(
    metrics: MetricsSource,
    panel: Panel,
    start: datetime,
    end: datetime,
    step_s: int,
    group_by: str,
) -> PanelData:
    """One panel's lines; a failure becomes ``error`` (one line), never an exception."""
    group = group_by if panel.grouped else "none"
    lines: list[Line] = []
    try:
        for signal in panel.signals:
            for s in metrics.series(signal, start, end, step_s, group):
                if signal in RATE_KEYS:
                    _check_rates(signal, s)
                lines.append(Line(_label(s, panel, group), s.points))
    except (ConnectorError, ValueError) as exc:
        return PanelData(
            panel, error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__, queried=end
        )
    return PanelData(panel, tuple(lines), queried=end)


def load_panels(session: Session, rng: TimeRange, group_by: str) -> dict[str, PanelData]:
    """Every panel over ``rng`` ending at the view time (now, or ``--at``).
    Raises LlmdeckError without a metrics source."""
    metrics = series_cache.metrics_source(session)
    start, end = session.view.window(rng)
    return {p.key: load_panel(metrics, p, start, end, rng.step_s, group_by) for p in PANELS}


def report(session: Session, rng: TimeRange, group_by: str) -> dict[str, Any]:
    """Everything the Overview shows, JSON-ready (``llmdeck metrics --json``)."""
    from dataclasses import asdict

    from console.overview import budgets, kpis, slo
    from console.changelog import markers as changes

    metrics = series_cache.metrics_source(session)
    start, end = session.view.window(rng)
    out: dict[str, Any] = {
        "range": rng.name,
        "group_by": group_by,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "step_s": rng.step_s,
    }
    frame = kpis.load_frame(session, rng)
    k = frame.kpis
    judged = kpis.cards(frame)
    out["kpis"] = {c.key: c.value for c in judged} | {"requests": k.requests}
    # Same judgement as the strip's colours; p95 is read off buckets (an estimate).
    out["kpi_severity"] = {
        c.key: {"severity": c.severity, "why": c.why, "estimate": c.estimate} for c in judged
    }
    out["panels"] = {
        p.key: load_panel(metrics, p, start, end, rng.step_s, group_by).to_dict() for p in PANELS
    }
    ch = changes.load(session, start, end)
    out["changes"] = [
        {"ts": e.ts.isoformat(), "source": e.source, "what": e.what, "who": e.who}
        for e in ch.events
    ]
    out["changes_before_range"] = [
        {"ts": e.ts.isoformat(), "source": e.source, "what": e.what, "who": e.who}
        for e in changes.latest_before(session, start)
    ]
    out["problems"] = list(ch.problems)
    settings = session.profile.settings
    out["cost"] = [
        asdict(c) for c in _guard(out, lambda: budgets.model_costs(metrics, settings, start, end))
    ]
    out["budgets"] = [
        b.to_dict() for b in _guard(out, lambda: budgets.budgets(metrics, settings, end))
    ]
    out["slos"] = [s.to_dict() for s in _guard(out, lambda: slo.evaluate(metrics, settings, end))]
    return out


def _guard(out: dict[str, Any], fn: Any) -> list[Any]:
    try:
        return list(fn())
    except (ConnectorError, ValueError) as exc:
        out["problems"].append(str(exc))
        return []


@dataclass
class StaleState:
    """Per-panel freshness for the screen: last good data and since when it failed."""

    last: dict[str, PanelData] = field(default_factory=dict)
    since: dict[str, datetime] = field(default_factory=dict)

    def update(
        self, fresh: dict[str, PanelData], now: datetime
    ) -> dict[str, tuple[PanelData, str]]:
        """Merge a refresh: (data to draw, stale note or "") per panel."""
        out = {}
        for key, data in fresh.items():
            if data.error is None:
                self.last[key] = data
                self.since.pop(key, None)
                out[key] = (data, "")
            else:
                since = self.since.setdefault(key, now)
                shown = self.last.get(key, data)
                out[key] = (shown, f"stale since {since:%H:%M:%S}: {data.error}")
        return out
