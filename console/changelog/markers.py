"""Change markers: what changed, when and by whom, for the charts.

Three sources, merged oldest first: the workspace ``history`` table (alias
maps and flag states, as snapshots: a marker is a difference between two
snapshots), the ``audit`` table (every outcome of the write pipeline that
changed something) and, when the flags connector keeps one, its own event
log. A source that fails is skipped and named in ``problems``; the markers
from the other sources still show.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.records import ChangeEvent
from connectors.workspace.store import from_ms, ts_ms
from console.actions.steps import ALERT_ACTIONS
from console.core.errors import LlmdeckError
from console.core.session import Session


@dataclass(frozen=True)
class Changes:
    events: tuple[ChangeEvent, ...]
    problems: tuple[str, ...] = ()


def _diff(kind: str, key: str, before: Any, after: Any) -> str:
    if kind == "alias" and isinstance(after, dict):
        before = before if isinstance(before, dict) else {}
        moved = [f"{a}→{v}" for a, v in sorted(after.items()) if before.get(a) != v]
        gone = [f"{a} removed" for a in sorted(before) if a not in after]
        return f"{key} alias " + ", ".join(moved + gone or ["unchanged"])
    if kind == "flag" and isinstance(after, dict):
        parts = []
        if not isinstance(before, dict) or before.get("enabled") != after.get("enabled"):
            parts.append("on" if after.get("enabled") else "off")
        weights = after.get("weights")
        if weights and (not isinstance(before, dict) or before.get("weights") != weights):
            parts.append("/".join(f"{k} {float(v):g}%" for k, v in weights.items()))
        return f"flag {key} " + (", ".join(parts) or "changed")
    return f"{kind} {key} changed"


def from_history(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[ChangeEvent]:
    """Markers for every snapshot in [start, end) that differs from the one before it.

    A key's first snapshot has nothing before it: it is the baseline, never a marker.
    """
    rows = conn.execute(
        "SELECT ts, kind, source, key, state FROM history WHERE ts < ? ORDER BY kind, key, ts, id",
        (ts_ms(end),),
    ).fetchall()
    out: list[ChangeEvent] = []
    last: dict[tuple[str, str], Any] = {}
    lo = ts_ms(start)
    for ts, kind, source, key, state in rows:
        after = json.loads(state)
        seen = (kind, key) in last
        before = last.get((kind, key))
        last[(kind, key)] = after
        # The first snapshot of a key is a baseline (the state when llmdeck first
        # looked, e.g. the first Registry visit), not a change: no marker.
        if seen and ts >= lo:
            out.append(
                ChangeEvent(
                    from_ms(ts), f"history:{source}", _diff(kind, key, before, after), "", key
                )
            )
    return out


def from_audit(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[ChangeEvent]:
    """Markers for audit entries in [start, end) that changed something (outcome done).

    The incident record's own entries (``incident.open``, ``.note``, ``.close``)
    and acknowledgements and silences of alerts are audited too but change
    nothing the charts measure: no marker.
    """
    quiet = ", ".join(f"'{a}'" for a in sorted(ALERT_ACTIONS))
    rows = conn.execute(
        "SELECT ts, who, action, target, reason FROM audit "
        "WHERE ts >= ? AND ts < ? AND outcome = 'done' AND action NOT LIKE 'incident.%' "
        f"AND action NOT IN ({quiet}) ORDER BY ts, id",
        (ts_ms(start), ts_ms(end)),
    ).fetchall()
    return [
        ChangeEvent(
            from_ms(ts),
            "audit",
            f"{action} {target}" + (f": {reason}" if reason else ""),
            who,
            target,
        )
        for ts, who, action, target, reason in rows
    ]


def load(session: Session, start: datetime, end: datetime) -> Changes:
    """Every marker in [start, end), oldest first, with the sources that failed."""
    events: list[ChangeEvent] = []
    problems: list[str] = []
    try:
        conn = session.store()
        events += from_history(conn, start, end)
        events += from_audit(conn, start, end)
    except (LlmdeckError, sqlite3.Error) as exc:
        problems.append(f"workspace: {exc}")
    try:
        flags = session.flags()
        if flags is not None:
            events += [e for e in flags.events(since=start) if start <= e.ts < end]
    except LlmdeckError as exc:
        problems.append(f"flag events: {exc}")
    events.sort(key=lambda e: (e.ts, e.source))
    return Changes(tuple(events), tuple(problems))


# How far back the changes list looks for the latest changes before the range.
EARLIER_LOOKBACK = timedelta(days=7)
EARLIER_COUNT = 3


def latest_before(
    session: Session, start: datetime, count: int = EARLIER_COUNT
) -> tuple[ChangeEvent, ...]:
    """The ``count`` newest markers in the week before ``start``, oldest first.

    Best effort: what failed is already named by ``load`` for the range itself.
    """
    return load(session, start - EARLIER_LOOKBACK, start).events[-count:] if count > 0 else ()
