"""The pipeline's own audit entries as rows: one reader of the ``audit`` table
for the Audit screen's trail and the incident timeline (a room cannot import
another room, so the reading lives here, below both)."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson

from connectors.workspace.store import from_ms, ts_ms


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One line of the merged trail. ``source`` is ``llmdeck`` for the pipeline's
    own entries, the flag backend's kind for its events, ``history`` for alias moves."""

    ts: datetime
    source: str
    who: str
    environment: str
    action: str
    target: str
    outcome: str = ""
    before: Any = None
    after: Any = None
    reason: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ts"] = self.ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return out

    def text(self) -> str:
        """Everything a filter matches against, lower case."""
        parts = [
            self.source,
            self.who,
            self.environment,
            self.action,
            self.target,
            self.outcome,
            self.reason,
            self.detail,
            dumps(self.before),
            dumps(self.after),
        ]
        return " ".join(parts).lower()


def dumps(value: Any) -> str:
    """A state as compact JSON ('' for None)."""
    return "" if value is None else orjson.dumps(value).decode()


def loads(raw: str | None) -> Any:
    """A stored JSON state (None when empty; the raw text when it is not JSON)."""
    if raw in (None, ""):
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def local_rows(
    store: sqlite3.Connection, since: datetime | None = None, until: datetime | None = None
) -> list[AuditRow]:
    """The pipeline's audit entries (and break-glass) in [since, until), oldest first."""
    rows = store.execute(
        "SELECT ts, who, environment, action, target, outcome, before, after, reason, detail "
        "FROM audit WHERE ts >= ? AND ts < ? ORDER BY ts, id",
        (ts_ms(since) if since else 0, ts_ms(until) if until else 2**62),
    ).fetchall()
    return [
        AuditRow(
            from_ms(ts),
            "llmdeck",
            who or "",
            env or "",
            action or "",
            target or "",
            outcome or "",
            loads(before),
            loads(after),
            reason or "",
            detail or "",
        )
        for ts, who, env, action, target, outcome, before, after, reason, detail in rows
    ]
