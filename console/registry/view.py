"""What the Registry screen (and ``llmdeck registry``) shows.

Every listing snapshots each name's alias map into the workspace ``history``
table (``kind="alias"``), so alias moves are known even where the backend
keeps no history. Lineage and per-version traffic come from the workspace
request log: lineage is one GROUP BY over the ``(prompt_version, ts)`` index,
cached per whole hour (console/registry/lineage.py); traffic reads the per-minute and
per-hour rollups, never the request table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from connectors.base import RegistryEntry
from connectors.workspace.store import from_ms, snapshot_history
from console.core import clock
from console.core.session import Session
from console.registry.lineage import (
    LineageRow as LineageRow,
)  # re-exported for screens and commands
from console.registry.lineage import lineage as lineage


@dataclass(frozen=True)
class Listing:
    """Prompts and models of a registry, and what could not be read."""

    prompts: list[RegistryEntry]
    models: list[RegistryEntry]
    errors: list[str]
    snapshots: int  # alias maps that changed since the last poll


def snapshot_aliases(
    conn: sqlite3.Connection, source: str, entries: Sequence[RegistryEntry]
) -> int:
    """Record each entry's alias map if it changed; returns how many changed."""
    at = clock.now()
    return sum(
        snapshot_history(conn, "alias", source, e.name, dict(e.aliases), at=at) for e in entries
    )


def load_listing(session: Session) -> Listing:
    """Poll the registry: both listings, alias snapshots into the store.

    Raises ConnectorError (backend down, auth) and LlmdeckError (no registry).
    """
    registry = session.need_registry()
    prompts = registry.entries("prompt")
    models = registry.entries("model")
    changed = 0
    if session.profile.workspace is not None:
        changed = snapshot_aliases(session.store(), registry.kind, [*prompts, *models])
    return Listing(prompts, models, registry.problems(), changed)


@dataclass(frozen=True)
class AliasMove:
    """An alias that pointed elsewhere from ``ts`` on (``before`` None: new alias)."""

    ts: datetime
    alias: str
    before: str | None
    after: str | None


def alias_history(conn: sqlite3.Connection, name: str) -> list[AliasMove]:
    """Every alias move of ``name`` known to the workspace, oldest first."""
    rows = conn.execute(
        "SELECT ts, state FROM history WHERE kind = 'alias' AND key = ? ORDER BY ts, id", (name,)
    ).fetchall()
    out: list[AliasMove] = []
    previous: dict[str, str] = {}
    for ts, raw in rows:
        try:
            state = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(state, dict):
            continue
        state = {str(k): str(v) for k, v in state.items()}
        for alias in sorted(set(previous) | set(state)):
            if previous.get(alias) != state.get(alias):
                out.append(AliasMove(from_ms(ts), alias, previous.get(alias), state.get(alias)))
        previous = state
    return out
