"""The Overview's charts: which signals each panel draws, loaded panel by panel.

A panel that fails keeps the others working: its ``error`` says why, and the
screen keeps its last good data with a stale marker. A panel whose data stopped
arriving says "no data since HH:MM" (``since``, from console/alerts/absence.py),
and one whose window is empty says so: neither is drawn as a quiet zero.
``report`` gathers everything the Overview shows, for ``llmdeck metrics --json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.base import MetricsSource
from connectors.errors import ConnectorError, EmptyResult
from connectors.records import MetricSeries
from console.alerts import absence
from console.alerts.absence import Freshness, no_data_text
from console.core import series_cache
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.core.spans import TimeRange
from console.overview import freshness
from console.overview.kpis import RATE_KEYS, KpiCard, invalid_rate


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
    """One panel's lines over its window ending ``queried``, or the ``error`` that
    kept it from being read. ``since``: its data stopped then and is absent now
    (``absent`` names the signals, fewer than the panel's when only some
    stopped). ``empty``: no line has a value in the window (``empty_why`` is the
    backend's word for it, when it had one)."""

    panel: Panel
    lines: tuple[Line, ...] = ()
    error: str | None = None
    queried: datetime | None = None
    since: datetime | None = None
    absent: tuple[str, ...] = ()
    empty: bool = False
    empty_why: str = ""

    @property
    def status(self) -> str:
        """``error`` (could not be read), ``no_data`` (stopped, or an empty
        window) or ``ok``."""
        if self.error is not None:
            return "error"
        return "no_data" if self.since is not None or self.empty else "ok"

    def absence_note(self) -> str:
        """ "no data since 03:10" (with the signals when only some stopped), "no
        data in this range" for an empty window, "" while data flows."""
        if self.since is not None:
            now = self.queried or self.since
            some = set(self.absent) != set(self.panel.signals)
            return no_data_text(self.since, now) + (
                f" for {', '.join(self.absent)}" if some else ""
            )
        return "no data in this range" if self.empty else ""

    def problem(self) -> str | None:
        """Why the panel is not plain data, one line; None when it is."""
        if self.error is not None:
            return f"backend error: {self.error}"
        note = self.absence_note()
        if note and self.empty and self.since is None and self.empty_why:
            note += f" ({self.empty_why})"
        return note or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.panel.title,
            "status": self.status,
            "problem": self.problem(),
            "since": None if self.since is None else self.since.isoformat(),
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
    fresh: Freshness | None = None,
) -> PanelData:
    """One panel's lines; a failure becomes ``error`` (one line), never an
    exception. ``fresh`` (when its signals last had data) marks a panel whose
    data stopped; a signal with no series in the window (EmptyResult) is no
    data, not a failure."""
    group = group_by if panel.grouped else "none"
    quiet = fresh.quiet(panel.signals) if fresh is not None else None
    since, absent = quiet if quiet is not None else (None, ())
    lines: list[Line] = []
    empty_why = ""
    try:
        for signal in panel.signals:
            try:
                found = metrics.series(signal, start, end, step_s, group)
            except EmptyResult as exc:
                empty_why = _first_line(exc)
                continue
            for s in found:
                if signal in RATE_KEYS:
                    _check_rates(signal, s)
                lines.append(Line(_label(s, panel, group), s.points))
    except (ConnectorError, ValueError) as exc:
        return PanelData(panel, error=_first_line(exc), queried=end, since=since, absent=absent)
    empty = not any(not math.isnan(v) for ln in lines for _, v in ln.points)
    return PanelData(
        panel,
        tuple(lines),
        queried=end,
        since=since,
        absent=absent,
        empty=empty,
        empty_why=empty_why if empty else "",
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def load_panels(
    session: Session,
    rng: TimeRange,
    group_by: str,
    fresh: Freshness | None = None,
    end: datetime | None = None,
) -> dict[str, PanelData]:
    """Every panel over ``rng`` ending ``end`` (default: the view time, now or
    ``--at``). Raises LlmdeckError without a metrics source."""
    metrics = series_cache.metrics_source(session)
    start, end = session.view.window(rng) if end is None else rng.window(end)
    return {p.key: load_panel(metrics, p, start, end, rng.step_s, group_by, fresh) for p in PANELS}


def report(session: Session, rng: TimeRange, group_by: str) -> dict[str, Any]:
    """Everything the Overview shows, JSON-ready (``llmdeck metrics --json``).

    Prints what it can: the KPIs and each panel carry a ``status`` (ok,
    no_data, error) and a ``problem``, and ``status`` is ``partial`` when any of
    them is not ok. Raises LlmdeckError only when nothing could be read at all
    (no metrics source, or the KPIs and every panel failed: the backend is down).
    """
    from dataclasses import asdict

    from console.changelog import markers as changes
    from console.overview import budgets, kpis, slo

    metrics = series_cache.metrics_source(session)
    start, end = session.view.window(rng)
    out: dict[str, Any] = {
        "range": rng.name,
        "group_by": group_by,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "step_s": rng.step_s,
    }
    partial: list[str] = []
    problems: list[str] = []
    fresh, why = freshness.read(session, metrics, end)
    if why:
        problems.append(why)
    kpi_error: LlmdeckError | None = None
    try:
        frame = kpis.load_frame(session, rng, fresh)
    except LlmdeckError as exc:
        kpi_error = exc
        out["kpis"], out["kpi_severity"] = {}, {}
        failed = {"status": "error", "problem": f"backend error: {_first_line(exc)}"}
        out["kpi_status"] = dict.fromkeys(kpis.CARD_KEYS, failed)
        partial.append(f"kpis: backend error: {_first_line(exc)}")
    else:
        judged = kpis.cards(frame)
        out["kpis"] = {c.key: c.value for c in judged} | {"requests": frame.kpis.requests}
        # Same judgement as the strip's colours; p95 is read off buckets (an estimate).
        out["kpi_severity"] = {
            c.key: {"severity": c.severity, "why": c.why, "estimate": c.estimate} for c in judged
        }
        out["kpi_status"] = {c.key: _card_status(c) for c in judged}
        for c in judged:
            if (problem := out["kpi_status"][c.key]["problem"]) is not None:
                partial.append(f"kpi {c.key}: {problem}")
    loaded = {
        p.key: load_panel(metrics, p, start, end, rng.step_s, group_by, fresh) for p in PANELS
    }
    if kpi_error is not None and all(d.status == "error" for d in loaded.values()):
        raise kpi_error  # nothing to print: one line, as for any backend that is down
    out["panels"] = {key: d.to_dict() for key, d in loaded.items()}
    partial += [f"panel {key}: {d.problem()}" for key, d in loaded.items() if d.status != "ok"]
    out["status"] = "partial" if partial else "ok"
    out["partial"] = list(partial)  # the KPIs and panels that are not ok, one line each
    out["absent"] = [a.to_dict() for a in absence.alerts(fresh)] if fresh is not None else []
    out["newest"] = (
        {s: t.isoformat() for s, t in sorted(fresh.signals.items())} if fresh is not None else {}
    )
    ch = changes.load(session, start, end)
    out["changes"] = [
        {"ts": e.ts.isoformat(), "source": e.source, "what": e.what, "who": e.who}
        for e in ch.events
    ]
    out["changes_before_range"] = [
        {"ts": e.ts.isoformat(), "source": e.source, "what": e.what, "who": e.who}
        for e in changes.latest_before(session, start)
    ]
    out["problems"] = [*partial, *problems, *ch.problems]
    settings = session.profile.settings
    out["cost"] = [
        asdict(c) for c in _guard(out, lambda: budgets.model_costs(metrics, settings, start, end))
    ]
    out["budgets"] = [
        b.to_dict() for b in _guard(out, lambda: budgets.budgets(metrics, settings, end))
    ]
    out["slos"] = [s.to_dict() for s in _guard(out, lambda: slo.evaluate(metrics, settings, end))]
    return out


def _card_status(card: KpiCard) -> dict[str, str | None]:
    if card.text == "error":
        return {"status": "error", "problem": card.why}
    if card.since is not None:
        return {"status": "no_data", "problem": card.text}
    return {"status": "ok", "problem": None}


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
