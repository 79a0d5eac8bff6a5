"""Incidents and their notes: rows of the workspace's ``incidents`` and
``incident_notes`` tables.

Opening or closing an incident and adding a note are local records, not
writes to a backend: there is no backend state to plan against, re-read or
verify, so they do not go through the write pipeline
(``console/actions/pipeline.py``). Each is still appended to the audit log,
in the same transaction as the row itself: the audit trail answers "who did
what, when" for everything an operator did, and declaring or closing an
incident is such an act (a trail that showed the rollback but not the
incident it answered would be missing its reason). Under ``--read-only``
they are refused, like ingest: the store may be a team's
(``console/core/readonly.py``); a read-only *profile* allows them, because
the on-call engineer who may not flip a production flag must still be able
to record the incident.

Titles and notes are scrubbed of known secrets and credential shapes before
they are stored (``connectors.support.redact.scrub``): a pasted curl line
must not put a token in the postmortem.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from connectors.support.redact import scrub
from connectors.workspace.store import append_audit, from_ms, ts_ms
from console.core import clock, readonly
from console.core.errors import LlmdeckError
from console.core.session import Session

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
Status = Literal["open", "closed"]
MAX_TITLE = 200
MAX_NOTE = 4000
_ID = re.compile(r"(?i)^(?:inc-?)?(\d+)$")


class IncidentError(LlmdeckError):
    """An incident that does not exist, or input an incident cannot take."""


@dataclass(frozen=True)
class Incident:
    """One incident. ``closed`` is None while it is open; times are UTC."""

    id: int
    opened: datetime
    closed: datetime | None
    title: str
    severity: str
    who: str
    profile: str

    @property
    def status(self) -> Status:
        return "open" if self.closed is None else "closed"

    @property
    def label(self) -> str:
        """``INC-3``: how screens, commands and the export name it."""
        return f"INC-{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "opened": iso(self.opened),
            "closed": iso(self.closed) if self.closed else None,
            "who": self.who,
            "profile": self.profile,
        }


@dataclass(frozen=True)
class Note:
    id: int
    incident_id: int
    ts: datetime
    who: str
    text: str


def iso(ts: datetime) -> str:
    """ISO 8601 UTC with a ``Z`` and milliseconds: ``2026-11-29T12:00:00.000Z``."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_id(text: str) -> int:
    """``3``, ``INC-3`` or ``inc3`` as 3. Raises IncidentError."""
    found = _ID.match(str(text).strip())
    if not found:
        raise IncidentError(f"not an incident id: {text!r} (write 3 or INC-3)")
    return int(found.group(1))


def _title(text: str) -> str:
    title = " ".join(str(text).split())  # one line: it heads a Markdown document
    if not title:
        raise IncidentError("an incident needs a title")
    if len(title) > MAX_TITLE:
        raise IncidentError(f"title too long ({len(title)} characters, at most {MAX_TITLE})")
    return scrub(title)


def _severity(text: str) -> str:
    severity = str(text).strip().lower()
    if severity not in SEVERITIES:
        raise IncidentError(f"unknown severity {text!r} (choose {', '.join(SEVERITIES)})")
    return severity


def _note_text(text: str) -> str:
    body = str(text).strip()
    if not body:
        raise IncidentError("a note needs some text")
    if len(body) > MAX_NOTE:
        raise IncidentError(f"note too long ({len(body)} characters, at most {MAX_NOTE})")
    return scrub(body)


def _audit(session: Session, action: str, incident: int, after: Any, at: datetime) -> None:
    profile = session.profile
    append_audit(
        session.store(),
        {
            "ts": ts_ms(at),
            "who": session.user,
            "profile": profile.name,
            "environment": profile.environment,
            "action": action,
            "target": f"INC-{incident}",
            "outcome": "done",
            "before": None,
            "after": after,
            "reason": "",
            "detail": f"{action} INC-{incident}",
        },
    )


def open_incident(
    session: Session, title: str, severity: str, at: datetime | None = None
) -> Incident:
    """Record a new open incident (and its audit entry). Raises IncidentError for
    an empty or overlong title or an unknown severity, ReadOnlyRefused under
    ``--read-only``, WorkspaceError without a workspace."""
    title, severity = _title(title), _severity(severity)
    readonly.check_local(session, "incident")
    at = at or clock.now()
    conn = session.store()
    # One transaction: append_audit's own ``with conn`` commits the incident row
    # and the audit row together, or rolls both back.
    with conn:
        cur = conn.execute(
            "INSERT INTO incidents (opened, closed, title, severity, who, profile) "
            "VALUES (?, NULL, ?, ?, ?, ?)",
            (ts_ms(at), title, severity, session.user, session.profile.name),
        )
        new_id = int(cur.lastrowid or 0)
        _audit(session, "incident.open", new_id, {"title": title, "severity": severity}, at)
    return get(conn, new_id)


def close(session: Session, incident_id: int, at: datetime | None = None) -> Incident:
    """Close an open incident. Raises IncidentError when it does not exist or is
    already closed, ReadOnlyRefused under ``--read-only``."""
    readonly.check_local(session, "incident")
    conn = session.store()
    incident = get(conn, incident_id)
    if incident.closed is not None:
        raise IncidentError(f"{incident.label} is already closed (at {iso(incident.closed)})")
    at = at or clock.now()
    if at < incident.opened:
        raise IncidentError(f"{incident.label} cannot close before it opened")
    with conn:
        conn.execute(
            "UPDATE incidents SET closed = ? WHERE id = ? AND closed IS NULL",
            (ts_ms(at), incident_id),
        )
        _audit(session, "incident.close", incident_id, {"status": "closed"}, at)
    return get(conn, incident_id)


def add_note(session: Session, incident_id: int, text: str, at: datetime | None = None) -> Note:
    """Append a note to an open incident. Raises IncidentError for empty or
    overlong text, an unknown incident or a closed one (its timeline ends at
    the close), ReadOnlyRefused under ``--read-only``."""
    body = _note_text(text)
    readonly.check_local(session, "incident")
    conn = session.store()
    incident = get(conn, incident_id)
    if incident.closed is not None:
        raise IncidentError(f"{incident.label} is closed; its timeline ends at the close")
    at = at or clock.now()
    with conn:
        cur = conn.execute(
            "INSERT INTO incident_notes (incident_id, ts, who, text) VALUES (?, ?, ?, ?)",
            (incident_id, ts_ms(at), session.user, body),
        )
        note_id = int(cur.lastrowid or 0)
        _audit(session, "incident.note", incident_id, {"note": note_id}, at)
    return Note(note_id, incident_id, at, session.user, body)


_SELECT = "SELECT id, opened, closed, title, severity, who, profile FROM incidents"


def _incident(row: tuple[Any, ...]) -> Incident:
    id_, opened, closed, title, severity, who, profile = row
    return Incident(
        int(id_),
        from_ms(int(opened)),
        None if closed is None else from_ms(int(closed)),
        str(title or ""),
        str(severity or ""),
        str(who or ""),
        str(profile or ""),
    )


def get(conn: sqlite3.Connection, incident_id: int) -> Incident:
    """The incident ``incident_id``. Raises IncidentError when there is none."""
    row = conn.execute(_SELECT + " WHERE id = ?", (incident_id,)).fetchone()
    if row is None:
        raise IncidentError(f"no incident INC-{incident_id}")
    return _incident(row)


def listing(conn: sqlite3.Connection) -> list[Incident]:
    """Every incident, newest first."""
    return [_incident(r) for r in conn.execute(_SELECT + " ORDER BY opened DESC, id DESC")]


def current(conn: sqlite3.Connection) -> Incident | None:
    """The newest open incident (the one ``n`` adds notes to), or None."""
    row = conn.execute(
        _SELECT + " WHERE closed IS NULL ORDER BY opened DESC, id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else _incident(row)


def notes(conn: sqlite3.Connection, incident_id: int) -> list[Note]:
    """An incident's notes, oldest first."""
    rows = conn.execute(
        "SELECT id, incident_id, ts, who, text FROM incident_notes "
        "WHERE incident_id = ? ORDER BY ts, id",
        (incident_id,),
    ).fetchall()
    return [
        Note(int(i), int(inc), from_ms(int(ts)), str(who or ""), str(text))
        for i, inc, ts, who, text in rows
    ]
