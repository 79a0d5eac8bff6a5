"""The timeline of an incident: everything that happened from a lead-in before
it was opened (default 1 h: the alert that fired and the change that caused
it usually come first) to its close, or now while it is open.

Sources, all from the workspace store except the flag backend's event log:

- ``incident``: the incident opened and closed (``incidents``);
- ``alert``: alert events (``alert_events``: pending, firing, resolved,
  acked, silenced), whatever rule made them;
- ``change``: change markers (``console.changelog.markers.load``): alias and
  flag snapshots and the flag backend's own events. Its markers read from the
  audit log are left out: those are the ``action`` entries, with more detail;
- ``action``: every audited action (``audit``: done, cancelled, refused,
  conflict, failed), the incident's own open/note/close entries excepted
  (they are the ``incident`` and ``note`` entries);
- ``replay``: replays run (``replays``), one entry per batch with its count
  and verdict mix, one per single replay;
- ``note``: the incident's notes (``incident_notes``).

A source that cannot be read is named in ``problems`` and the others still
show, as on the charts.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from connectors.workspace.store import from_ms, ts_ms
from console.changelog import markers
from console.changelog.audit_rows import AuditRow, loads, local_rows
from console.core import clock
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.incident import record
from console.incident.record import Incident

Kind = Literal["incident", "alert", "change", "action", "replay", "note"]
KINDS: tuple[Kind, ...] = ("incident", "alert", "change", "action", "replay", "note")
DEFAULT_LEAD_IN = timedelta(hours=1)
# Entries at the same millisecond: what happened to the system before what the
# operator wrote about it, and the close last.
_RANK = {"alert": 1, "change": 2, "action": 3, "replay": 4, "note": 5}


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline. ``title`` is one short line, ``body`` the
    detail (may be empty), ``source`` where it was read (``alert_events``,
    ``audit``, ``history:flagd``, ``unleash``, ``replays``, ...), ``who`` the
    person or bot when known, ``ref`` what it is about (the alert key, the
    changed or written target, the batch or replay id, the note id)."""

    ts: datetime
    kind: Kind
    title: str
    body: str
    source: str
    who: str = ""
    ref: str = ""


@dataclass(frozen=True)
class Timeline:
    """An incident's entries in [start, end], oldest first."""

    incident: Incident
    start: datetime
    end: datetime
    entries: tuple[TimelineEntry, ...]
    problems: tuple[str, ...] = ()

    def of_kind(self, kind: Kind) -> list[TimelineEntry]:
        return [e for e in self.entries if e.kind == kind]


def window(
    incident: Incident, lead_in: timedelta = DEFAULT_LEAD_IN, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """[opened - lead_in, closed or now]."""
    end = incident.closed or now or clock.now()
    return incident.opened - lead_in, max(end, incident.opened)


def _onset_of_active_alerts(conn: sqlite3.Connection, opened: datetime) -> datetime | None:
    """The earliest onset of the alerts that were active when the incident was
    opened: an incident declared hours into a page starts its timeline there."""
    try:
        row = conn.execute(
            "SELECT MIN(onset) FROM alerts WHERE onset <= ? AND kind = 'slo' "
            "AND (ended IS NULL OR ended >= ?)",
            (ts_ms(opened), ts_ms(opened)),
        ).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None or row[0] is None else from_ms(row[0])


def alert_entries(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[TimelineEntry]:
    """Alert events in [start, end]. ``detail`` is what the engine recorded
    (``console/alerts/lifecycle.py``: the alert as a dict) or, for an ack or a
    silence, who did it and until when (``connectors/workspace/alert_marks.py``)."""
    rows = conn.execute(
        "SELECT ts, key, event, severity, title, detail FROM alert_events "
        "WHERE ts >= ? AND ts <= ? ORDER BY ts, id",
        (ts_ms(start), ts_ms(end)),
    ).fetchall()
    out = []
    for ts, key, event, severity, title, detail in rows:
        sev = f" ({severity})" if severity else ""
        value = loads(detail if isinstance(detail, str) else None)
        facts = value if isinstance(value, dict) else {}
        out.append(
            TimelineEntry(
                from_ms(int(ts)),
                "alert",
                f"{event}: {title or key}{sev}",
                alert_detail(facts),
                "alert_events",
                str(facts.get("who") or ""),
                str(key or ""),
            )
        )
    return out


def alert_detail(facts: dict[str, Any]) -> str:
    """The figures of an alert event in one line: burn rates, observed against
    the objective, a silence's end. ``burn 1h 14.4, 5m 20.1 · observed 0.31,
    objective 0.05``."""
    parts = []
    burn = facts.get("burn")
    if isinstance(burn, dict) and burn:
        parts.append("burn " + ", ".join(f"{w} {_short(v)}" for w, v in burn.items()))
    figures = [
        f"{k} {_short(facts[k])}" for k in ("observed", "objective") if facts.get(k) is not None
    ]
    if figures:
        parts.append(", ".join(figures))
    if facts.get("until"):
        parts.append(f"until {facts['until']}")
    detail = facts.get("detail")
    if isinstance(detail, str) and detail:
        parts.append(detail)
    return " · ".join(parts)


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def change_entries(
    session: Session, start: datetime, end: datetime
) -> tuple[list[TimelineEntry], tuple[str, ...]]:
    """Change markers in [start, end] except the audit log's (see the module docstring)."""
    found = markers.load(session, start, end + timedelta(milliseconds=1))
    entries = [
        TimelineEntry(e.ts, "change", e.what, "", e.source, e.who, e.target)
        for e in found.events
        if e.source != "audit"
    ]
    return entries, found.problems


def action_entries(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[TimelineEntry]:
    """Audited actions in [start, end], the incident record's own excepted."""
    rows = local_rows(conn, start, end + timedelta(milliseconds=1))
    return [_action(r) for r in rows if not r.action.startswith("incident.")]


def _action(row: AuditRow) -> TimelineEntry:
    what = f"{row.action} {row.target}".strip()
    reason = f" ({' '.join(row.reason.split())})" if row.reason else ""
    return TimelineEntry(
        row.ts,
        "action",
        f"{what}: {row.outcome}{reason}",
        row.detail or what,
        "audit",
        row.who,
        row.target,
    )


def replay_entries(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[TimelineEntry]:
    """Replays in [start, end]: one entry per batch (at its first replay), one per
    single replay. Counts and verdicts are of the batch's replays in the window."""
    rows: list[Any] = conn.execute(
        "SELECT batch_id, replay_id, request_id, ts, target, prompt_version, verdict, cost_usd "
        "FROM replays WHERE ts >= ? AND ts <= ? ORDER BY ts, rowid",
        (ts_ms(start), ts_ms(end)),
    ).fetchall()
    batches: dict[str, list[Any]] = {}
    out = []
    for row in rows:
        batch_id = str(row[0] or "")
        if batch_id:
            batches.setdefault(batch_id, []).append(row)
            continue
        _, replay_id, request_id, ts, target, version, verdict, _cost = row
        version_note = f" with v{version}" if version else ""
        out.append(
            TimelineEntry(
                from_ms(int(ts)),
                "replay",
                f"replay of {request_id}: {verdict}",
                f"replay {replay_id} on {target}{version_note}",
                "replays",
                ref=str(replay_id),
            )
        )
    for batch_id, members in batches.items():
        verdicts = Counter(str(m[6]) for m in members)
        mix = ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items(), key=lambda i: -i[1]))
        targets = "/".join(sorted({str(m[4]) for m in members if m[4]}))
        versions = "/".join(sorted({f"v{m[5]}" for m in members if m[5]}))
        cost = sum(float(m[7] or 0.0) for m in members)
        out.append(
            TimelineEntry(
                from_ms(int(members[0][3])),
                "replay",
                f"replay batch {batch_id}: {len(members)} replays ({mix})",
                f"on {targets or '?'} {versions}".rstrip() + f" · ${cost:.4f}",
                "replays",
                ref=batch_id,
            )
        )
    return out


def note_entries(conn: sqlite3.Connection, incident_id: int) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            n.ts, "note", n.text.splitlines()[0][:120], n.text, "incident_notes", n.who, str(n.id)
        )
        for n in record.notes(conn, incident_id)
    ]


def incident_entries(incident: Incident) -> list[TimelineEntry]:
    out = [
        TimelineEntry(
            incident.opened,
            "incident",
            f"{incident.label} opened ({incident.severity})",
            incident.title,
            "incidents",
            incident.who,
            incident.label,
        )
    ]
    if incident.closed is not None:
        out.append(
            TimelineEntry(
                incident.closed,
                "incident",
                f"{incident.label} closed",
                "",
                "incidents",
                ref=incident.label,
            )
        )
    return out


def _order(entry: TimelineEntry) -> tuple[datetime, int]:
    if entry.kind == "incident":
        return entry.ts, 9 if entry.title.endswith("closed") else 0
    return entry.ts, _RANK[entry.kind]


def build(
    session: Session,
    incident: Incident,
    *,
    lead_in: timedelta = DEFAULT_LEAD_IN,
    now: datetime | None = None,
) -> Timeline:
    """The timeline of ``incident``, oldest first. Raises WorkspaceError when the
    profile has no usable workspace; a source that fails is named in ``problems``."""
    start, end = window(incident, lead_in, now)
    conn = session.store()
    start = min(start, _onset_of_active_alerts(conn, incident.opened) or start)
    entries = incident_entries(incident)
    problems: list[str] = []
    for name, read in (
        ("alert events", lambda: alert_entries(conn, start, end)),
        ("audit log", lambda: action_entries(conn, start, end)),
        ("replays", lambda: replay_entries(conn, start, end)),
        ("notes", lambda: note_entries(conn, incident.id)),
    ):
        try:
            entries += read()
        except (LlmdeckError, sqlite3.Error) as exc:
            problems.append(f"{name}: {exc}")
    changes, change_problems = change_entries(session, start, end)
    entries += changes
    problems += change_problems
    entries.sort(key=_order)
    return Timeline(incident, start, end, tuple(entries), tuple(problems))
