"""The postmortem draft of an incident, as Markdown or as JSON.

Markdown (``llmdeck incident export ID --format md``): ``# Incident N:
title``, then Summary, Impact, Timeline (time UTC | kind | what | who), What
changed, Actions taken (each done write with the refusal and error rate on
its route in the 15 min before and after it) and Signals (refusal and error
rate per minute over the incident window, as plotext text charts). Given the
same store and a fixed clock (``console/core/clock.py``) the document is the
same, character for character.

The impact window starts at the first alert that was pending or firing in the
timeline (or the opening, when that is earlier) and ends at the close or now;
its scope is the routes of those alerts, or all traffic when they name none.

JSON (``--format json``)::

    {"incident": {"id": 3, "label": "INC-3", "title": ..., "severity": "sev2",
                  "status": "open", "opened": "...Z", "closed": null, ...,
                  "window": {...}, "impact": {...}},
     "timeline": [{"timestamp": "2026-11-29T11:05:00.000Z", "kind": "alert",
                   "title": "firing: ...", "body": "[alert] firing: ...\\n...",
                   "source": "alert_events", "who": "",
                   "eventTime": "2026-11-29T11:05:00.000Z", "activityKind": "userNote",
                   "occurred_at": "2026-11-29T11:05:00.000Z"}, ...]}

``timestamp`` is ISO 8601 UTC with a ``Z``; ``kind`` one of incident, alert,
change, action, replay, note; ``body`` is self-contained (the kind, the title
and the detail), so it can be posted as it is.

What the incident tools take, and the aliases each entry carries for them:

- **Grafana Incident**: ``ActivityService.AddActivity`` takes ``incidentID``,
  ``activityKind``, ``body`` and ``eventTime`` (RFC 3339). Its only accepted
  ``activityKind`` is ``userNote`` (``Options.AddActivityRequestActivityKind``
  in grafana/incident-go ``client.gen.go``; ``incidentCreated``,
  ``incidentClosed`` and the others exist on read items only), so every entry
  says ``activityKind: "userNote"`` and its body starts with the llmdeck kind.
  Post an entry as ``{"incidentID": ID, "activityKind": e["activityKind"],
  "body": e["body"], "eventTime": e["eventTime"]}``.
- **incident.io**: its public API has no endpoint that creates timeline items
  (checked in the OpenAPI document of incident-io/sdk-go); its records say
  when something happened in an ``occurred_at`` RFC 3339 field, which each
  entry carries, with ``title`` and ``body``. Not verified against an import.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from connectors.support.atomic import private_opener
from console.actions.steps import ALERT_ACTIONS
from console.changelog.audit_rows import AuditRow, local_rows
from console.core import clock
from console.core import tenants as tenant_names
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.incident import charts, impact
from console.incident.impact import Effect, Impact, Point, Scoped
from console.incident.record import Incident, iso
from console.incident.timeline import DEFAULT_LEAD_IN, Timeline, TimelineEntry, build

Format = Literal["md", "json"]
FORMATS: tuple[Format, ...] = ("md", "json")


@dataclass(frozen=True)
class Postmortem:
    """Everything the export says about one incident, read once."""

    incident: Incident
    timeline: Timeline
    impact: Impact
    impact_label: str
    effects: tuple[Effect, ...]
    points: tuple[Point, ...]
    now: datetime
    changes: tuple[TimelineEntry, ...] = ()
    problems: tuple[str, ...] = ()


def flag_scopes(session: Session) -> tuple[dict[str, Scoped], str]:
    """The traffic each flag steers, from its metadata (``route``, ``model``),
    and a problem line when the flag backend could not be read."""
    try:
        store = session.flags()
        flags = store.flags() if store is not None else []
    except LlmdeckError as exc:
        return {}, f"flags: {exc}"
    out: dict[str, Scoped] = {}
    for flag in flags:
        route, model = flag.metadata.get("route"), flag.metadata.get("model")
        if route:
            out[flag.key] = Scoped({"route": (route,)}, f"route {route}")
        elif model:
            out[flag.key] = Scoped({"model_name": (model,)}, f"model {model}")
    return out, ""


def collect(
    session: Session,
    incident: Incident,
    *,
    lead_in: timedelta = DEFAULT_LEAD_IN,
    now: datetime | None = None,
) -> Postmortem:
    """Read the timeline, impact, effects and chart data of ``incident``."""
    now = now or clock.now()
    timeline = build(session, incident, lead_in=lead_in, now=now)
    conn = session.store()
    problems = list(timeline.problems)
    alerting = [
        e.ts for e in timeline.of_kind("alert") if e.title.startswith(("pending:", "firing:"))
    ]
    impact_start = min([incident.opened, *alerting])
    routes = impact.alert_routes(conn, timeline.start, timeline.end)
    scope = {"route": routes} if routes else {}
    label = (
        ("routes " if len(routes) > 1 else "route ") + ", ".join(routes)
        if routes
        else ("all traffic")
    )
    figures = impact.measure(conn, impact_start, timeline.end, scope, tenant_names.names(session))
    scopes, problem = flag_scopes(session)
    if problem:
        problems.append(problem)
    effects = []
    written = []
    for row in local_rows(conn, timeline.start, timeline.end + timedelta(milliseconds=1)):
        if row.outcome != "done" or row.action.startswith("incident."):
            continue
        written.append(Written.of(row, incident.opened))
        # Before the opening it is a change (What changed); an ack or a silence
        # touches no traffic, so it has no effect to measure.
        if row.ts < incident.opened or row.action in ALERT_ACTIONS:
            continue
        scoped = impact.scope_of_target(row.target, row.after, scopes)
        effects.append(
            impact.effect(
                conn, row.ts, scoped, now, action=row.action, target=row.target, who=row.who
            )
        )
    points = impact.series(conn, timeline.start, timeline.end, scope)
    return Postmortem(
        incident,
        timeline,
        figures,
        label,
        tuple(effects),
        tuple(points),
        now,
        tuple(what_changed(timeline, written)),
        tuple(problems),
    )


# -- Markdown ---------------------------------------------------------------


def _cell(text: str) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|") or "-"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], align: str = "") -> list[str]:
    head = list(head)
    marks = [("---:" if a == "r" else "---") for a in (align or "l" * len(head))]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(marks) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _when(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1%}"


def _count(n: int, total: int) -> str:
    return f"{n:,} ({n / total:.1%})" if total else f"{n:,}"


def _what(entry: TimelineEntry) -> str:
    """The timeline table's "what": a note in full, an alert or replay with its
    detail (burn rates, target), anything else by its title."""
    if entry.kind == "note":
        return entry.body
    if entry.kind in ("alert", "replay") and entry.body:
        return f"{entry.title} · {entry.body}"
    return entry.title


def _summary(pm: Postmortem) -> list[str]:
    inc = pm.incident
    end = inc.closed or pm.now
    alerts = {e.ref for e in pm.timeline.of_kind("alert")}
    duration = _duration(end - inc.opened)
    if inc.closed is None:
        duration += f" so far (open at {_when(pm.now)} UTC)"
    rows = [
        ("Severity", inc.severity),
        ("Status", inc.status),
        ("Opened", f"{_when(inc.opened)} UTC by {inc.who or '?'}"),
        ("Closed", f"{_when(inc.closed)} UTC" if inc.closed else "not yet"),
        ("Duration", duration),
        ("Profile", inc.profile),
        ("Scope", pm.impact_label),
        ("Alerts", f"{len(alerts)} in the timeline" if alerts else "none in the timeline"),
    ]
    return ["## Summary", "", *_table(("field", "value"), rows), ""]


def _impact(pm: Postmortem) -> list[str]:
    f = pm.impact
    tenants = ", ".join(f.tenants) if f.tenants else "none"
    if f.tenants_seen:
        tenants += f" ({len(f.tenants)} of {f.tenants_seen} with traffic)"
    row = (
        f"{f.requests:,}",
        _count(f.refusals, f.requests),
        _count(f.errors, f.requests),
        _count(f.blocks, f.requests),
        f"${f.cost_usd:,.2f}",
        tenants,
    )
    return [
        "## Impact",
        "",
        f"From {_when(f.start)} to {_when(f.end)} UTC on {pm.impact_label} "
        "(from the first alert, or the opening, to the close or now; whole minutes):",
        "",
        *_table(
            ("requests", "refusals", "errors", "blocks", "cost", "tenants affected"),
            [row],
            "rrrrrl",
        ),
        "",
        "A tenant is affected when at least one of its requests was refused, failed or blocked.",
        "",
    ]


def _timeline(pm: Postmortem) -> list[str]:
    t = pm.timeline
    rows = [(_when(e.ts), e.kind, _what(e), e.who or "-") for e in t.entries]
    lead = pm.incident.opened - t.start
    out = [
        "## Timeline",
        "",
        f"From {_when(t.start)} UTC ({_duration(lead)} before the opening) to {_when(t.end)} UTC.",
        "",
        *_table(("time (UTC)", "kind", "what", "who"), rows),
        "",
    ]
    if t.problems or pm.problems:
        out += [f"Not shown: {p}" for p in dict.fromkeys((*t.problems, *pm.problems))] + [""]
    return out


@dataclass(frozen=True)
class Written:
    """A done write: when, and every name its snapshots may carry (the target,
    the step targets of a composite plan, a prompt's name for ``prompt:alias``)."""

    ts: datetime
    names: frozenset[str]
    before_opening: bool

    @classmethod
    def of(cls, row: AuditRow, opened: datetime) -> Written:
        names = {row.target, *(row.after if isinstance(row.after, dict) else ())}
        names |= {n.split(":", 1)[0] for n in names if ":" in n}
        return cls(row.ts, frozenset(str(n) for n in names), row.ts < opened)


def what_changed(timeline: Timeline, written: Iterable[Written]) -> list[TimelineEntry]:
    """Changes in the window, and the writes done before the opening (what may
    have caused it; those after it are under Actions taken). A history snapshot
    that a done write took of its own result (a name of it, within a second) is
    left out: the write says it with its who and why."""
    written = list(written)
    before = {w.ts for w in written if w.before_opening}
    items = [e for e in timeline.of_kind("action") if e.ts in before and e.source == "audit"]
    for e in timeline.of_kind("change"):
        if e.source.startswith("history") and any(
            abs((e.ts - w.ts).total_seconds()) < 1 and e.ref in w.names for w in written
        ):
            continue
        items.append(e)
    return sorted(items, key=lambda e: e.ts)


def _changed(pm: Postmortem) -> list[str]:
    lines = [
        f"- {_when(e.ts)} UTC · {_cell(e.title)} · {e.who or '?'} ({e.source})" for e in pm.changes
    ]
    return ["## What changed", "", *(lines or ["Nothing changed in the window."]), ""]


def _rates(before: float | None, after: float | None) -> str:
    return f"{_pct(before)} → {_pct(after)}"


def _actions(pm: Postmortem) -> list[str]:
    opened = pm.incident.opened
    taken = [e for e in pm.timeline.of_kind("action") if e.ts >= opened]
    lines = [
        "## Actions taken",
        "",
    ]
    if not taken:
        return [*lines, "No action was taken after the opening.", ""]
    lines += _table(
        ("time (UTC)", "action", "who"),
        [(_when(e.ts), e.title, e.who or "-") for e in taken],
    )
    lines.append("")
    if pm.effects:
        lines += [
            "Effect of each done write: refusal and error rate on what it touched, in the "
            "15 min before the minute of the write and the 15 min after it.",
            "",
            *_table(
                (
                    "time (UTC)",
                    "write",
                    "on",
                    "requests before/after",
                    "refusal rate",
                    "error rate",
                ),
                [
                    (
                        _when(x.ts),
                        f"{x.action} {x.target}",
                        x.scope_label,
                        f"{x.before.requests:,} / {x.after.requests:,}"
                        + (" (partial)" if x.partial else ""),
                        _rates(x.before.refusal_rate, x.after.refusal_rate),
                        _rates(x.before.error_rate, x.after.error_rate),
                    )
                    for x in pm.effects
                ],
            ),
            "",
        ]
    return lines


def _signals(pm: Postmortem) -> list[str]:
    times = [p.ts for p in pm.points]
    marks = [(pm.incident.opened, "opened")] + [(x.ts, x.action) for x in pm.effects]
    step = int((times[1] - times[0]).total_seconds() // 60) if len(times) > 1 else 1
    per = "minute" if step == 1 else f"{step} minutes"
    out = [
        "## Signals",
        "",
        f"Per {per} on {pm.impact_label}, UTC; vertical lines: the opening and each done write.",
        "",
    ]
    for title, values in (
        ("refusal rate (%)", [p.refusal_rate * 100 for p in pm.points]),
        ("error rate (%)", [p.error_rate * 100 for p in pm.points]),
    ):
        chart = charts.line_chart(title, times, values, marks=marks)
        out += ["```text", chart, "```", ""] if chart else [f"No requests: no {title}.", ""]
    return out


def markdown(pm: Postmortem) -> str:
    """The postmortem draft as Markdown (ends with one newline)."""
    inc = pm.incident
    lines = [
        f"# Incident {inc.id}: {' '.join(inc.title.split())}",
        "",
        f"Postmortem draft of {inc.label}, written by llmdeck at {_when(pm.now)} UTC.",
        "",
        *_summary(pm),
        *_impact(pm),
        *_timeline(pm),
        *_changed(pm),
        *_actions(pm),
        *_signals(pm),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


# -- JSON -------------------------------------------------------------------


def entry_dict(entry: TimelineEntry) -> dict[str, Any]:
    """One timeline entry with the aliases of Grafana Incident and incident.io."""
    stamp = iso(entry.ts)
    detail = entry.body if entry.body and entry.body != entry.title else ""
    body = f"[{entry.kind}] {entry.title}" + (f"\n{detail}" if detail else "")
    return {
        "timestamp": stamp,
        "kind": entry.kind,
        "title": entry.title,
        "body": body,
        "source": entry.source,
        "who": entry.who,
        "ref": entry.ref,
        "eventTime": stamp,
        "activityKind": "userNote",
        "occurred_at": stamp,
    }


def _rates_dict(r: impact.Rates) -> dict[str, Any]:
    return {
        "start": iso(r.start),
        "end": iso(r.end),
        "requests": r.requests,
        "refusal_rate": r.refusal_rate,
        "error_rate": r.error_rate,
    }


def json_document(pm: Postmortem) -> dict[str, Any]:
    f = pm.impact
    end = pm.incident.closed or pm.now
    incident = {
        **pm.incident.to_dict(),
        "duration_s": int((end - pm.incident.opened).total_seconds()),
        "window": {"start": iso(pm.timeline.start), "end": iso(pm.timeline.end)},
        "impact": {
            "start": iso(f.start),
            "end": iso(f.end),
            "scope": {k: list(v) for k, v in f.scope.items()},
            "requests": f.requests,
            "refusals": f.refusals,
            "errors": f.errors,
            "blocks": f.blocks,
            "cost_usd": round(f.cost_usd, 6),
            "refusal_rate": f.refusal_rate,
            "error_rate": f.error_rate,
            "tenants_affected": list(f.tenants),
            "tenants_seen": f.tenants_seen,
        },
        "effects": [
            {
                "timestamp": iso(x.ts),
                "action": x.action,
                "target": x.target,
                "who": x.who,
                "scope": x.scope_label,
                "before": _rates_dict(x.before),
                "after": _rates_dict(x.after),
                "partial": x.partial,
            }
            for x in pm.effects
        ],
        "problems": list(dict.fromkeys((*pm.timeline.problems, *pm.problems))),
        "exported": iso(pm.now),
    }
    return {"incident": incident, "timeline": [entry_dict(e) for e in pm.timeline.entries]}


def render(pm: Postmortem, fmt: Format) -> str:
    if fmt == "md":
        return markdown(pm)
    return orjson.dumps(json_document(pm), option=orjson.OPT_INDENT_2).decode() + "\n"


def write(text: str, path: Path) -> None:
    """Write an export to ``path``, readable by its owner only (it may quote
    prompts and tenants). Raises LlmdeckError when it cannot be written."""
    try:
        with open(path, "w", encoding="utf-8", opener=private_opener) as fh:
            fh.write(text)
    except OSError as exc:
        raise LlmdeckError(f"{path}: cannot write: {exc.strerror}") from None
