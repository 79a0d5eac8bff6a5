"""The audit trail as one list: the pipeline's own audit rows, the flag
backend's event log (Unleash events) and the alias history in the store,
newest first; filterable and exportable to JSONL or CSV."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from connectors.support.atomic import private_opener
from connectors.workspace.store import from_ms, ts_ms
from console.changelog.audit_rows import AuditRow, local_rows
from console.changelog.audit_rows import dumps as _j
from console.changelog.audit_rows import loads as _load
from console.core.errors import LlmdeckError
from console.core.session import Session

# The reading of the audit table sits in the change log, below this room, so the
# incident timeline reads the same rows; AuditRow and local_rows are re-exported.
__all__ = ["AuditRow", "alias_rows", "export", "load", "local_rows", "matching"]

FIELDS = (
    "ts",
    "source",
    "who",
    "environment",
    "action",
    "target",
    "outcome",
    "before",
    "after",
    "reason",
    "detail",
)


def alias_rows(store: sqlite3.Connection, since: datetime | None = None) -> list[AuditRow]:
    """Alias moves since ``since``, from the store's history snapshots.

    Every snapshot is read (the table holds one row per change, so it stays
    small) because a row's ``before`` is the snapshot preceding it, which may
    be older than ``since``. A key's first snapshot is the baseline seen on the
    first poll, not a move: it gives no row.
    """
    rows = store.execute(
        "SELECT ts, source, key, state FROM history WHERE kind = 'alias' ORDER BY ts, id"
    ).fetchall()
    lo = ts_ms(since) if since else 0
    out = []
    previous: dict[str, Any] = {}
    for ts, source, key, state in rows:
        after = _load(state)
        if key in previous and ts >= lo:
            out.append(
                AuditRow(
                    from_ms(ts),
                    "history",
                    "",
                    "",
                    f"aliases ({source})",
                    key,
                    "",
                    previous[key],
                    after,
                )
            )
        previous[key] = after
    return out


def load(session: Session, since: datetime | None = None) -> tuple[list[AuditRow], list[str]]:
    """The merged trail up to the view time, newest first, and one line per source
    that failed. Pinned (``--at``), entries written after the pinned moment are left
    out: the trail is the one the on-call could read then."""
    rows: list[AuditRow] = []
    problems: list[str] = []
    try:
        store = session.store()
        rows += local_rows(store, since)
        rows += alias_rows(store, since)
    except (LlmdeckError, sqlite3.Error) as exc:
        problems.append(f"audit log: {exc}")
    try:
        flags = session.flags()
        if flags is not None:
            rows += [
                AuditRow(e.ts, e.source or flags.kind, e.who, "", e.what, e.target)
                for e in flags.events(since)
            ]
    except LlmdeckError as exc:
        problems.append(f"flag events: {exc}")
    until = session.view.at
    if until is not None:
        rows = [r for r in rows if r.ts < until]
    # Stable ascending sort, then reverse: newest first, and of rows with the
    # same time the one written last comes first.
    rows.sort(key=lambda r: r.ts)
    rows.reverse()
    return rows, problems


def matching(rows: Iterable[AuditRow], text: str) -> list[AuditRow]:
    """Rows whose fields contain every word of ``text`` (case-insensitive)."""
    words = text.lower().split()
    return [r for r in rows if all(w in r.text() for w in words)]


def export(rows: Iterable[AuditRow], path: Path) -> int:
    """Write ``rows`` to ``path`` as JSONL (``.jsonl``/``.json``) or CSV (``.csv``).

    Returns how many rows were written. Raises LlmdeckError for another
    suffix or an unwritable path.
    """
    items = [r.to_dict() for r in rows]
    try:
        if path.suffix in (".jsonl", ".json"):
            with open(path, "wb", opener=private_opener) as fh:
                for item in items:
                    fh.write(orjson.dumps(item) + b"\n")
        elif path.suffix == ".csv":
            with open(path, "w", newline="", encoding="utf-8", opener=private_opener) as fh:
                writer = csv.DictWriter(fh, fieldnames=FIELDS)
                writer.writeheader()
                for item in items:
                    item["before"], item["after"] = _j(item["before"]), _j(item["after"])
                    writer.writerow(item)
        else:
            raise LlmdeckError(f"{path}: export as .jsonl or .csv")
    except OSError as exc:
        raise LlmdeckError(f"{path}: cannot write: {exc.strerror}") from None
    return len(items)
