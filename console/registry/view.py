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
from dataclasses import dataclass, replace
from datetime import datetime

import orjson

from connectors.base import RegistryEntry
from connectors.records import PromptVersion
from connectors.workspace.store import from_ms, snapshot_history, ts_ms
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
    # Pinned (--at): the aliases are those the workspace recorded before this moment.
    as_of: datetime | None = None


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
    at = session.view.at
    prompts = registry.entries("prompt")
    models = registry.entries("model")
    changed = 0
    if session.profile.workspace is not None:
        # The snapshot records the registry as it is now, at the wall clock's
        # now, pinned view or not: that is how the history below is built.
        changed = snapshot_aliases(session.store(), registry.kind, [*prompts, *models])
        if at is not None:
            conn = session.store()
            prompts, models = _aliases_at(conn, prompts, at), _aliases_at(conn, models, at)
    return Listing(prompts, models, registry.problems(), changed, at)


def _aliases_at(
    conn: sqlite3.Connection, entries: Sequence[RegistryEntry], at: datetime
) -> list[RegistryEntry]:
    """``entries`` with the alias map the workspace recorded last before ``at``; an
    entry with no record before then keeps its current map (the registry keeps
    no history of its own)."""
    out = []
    for e in entries:
        recorded = _recorded_aliases(conn, e.name, at)
        out.append(e if recorded is None else replace(e, aliases=recorded))
    return out


def _recorded_aliases(conn: sqlite3.Connection, name: str, at: datetime) -> dict[str, str] | None:
    """The alias map of ``name`` the workspace recorded last before ``at``, if any."""
    row = conn.execute(
        "SELECT state FROM history WHERE kind = 'alias' AND key = ? AND ts < ? "
        "ORDER BY ts DESC, id DESC LIMIT 1",
        (name, ts_ms(at)),
    ).fetchone()
    try:
        state = orjson.loads(row[0]) if row else None
    except orjson.JSONDecodeError:
        return None
    return {str(k): str(v) for k, v in state.items()} if isinstance(state, dict) else None


@dataclass(frozen=True)
class AliasMove:
    """An alias that pointed elsewhere from ``ts`` on (``before`` None: new alias)."""

    ts: datetime
    alias: str
    before: str | None
    after: str | None


def alias_history(
    conn: sqlite3.Connection, name: str, until: datetime | None = None
) -> list[AliasMove]:
    """Every alias move of ``name`` known to the workspace, oldest first; only those
    before ``until`` when given (a view pinned with ``--at``)."""
    rows = conn.execute(
        "SELECT ts, state FROM history WHERE kind = 'alias' AND key = ? AND ts < ? ORDER BY ts, id",
        (name, ts_ms(until) if until else 2**62),
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


def versions_as_of(
    versions: Sequence[PromptVersion], at: datetime | None, conn: sqlite3.Connection | None = None
) -> list[PromptVersion]:
    """The versions that existed at ``at`` (all when live, or when a version does
    not say when it was made): a pinned view does not show later ones. With the
    workspace's ``conn``, each version's aliases are those recorded last before
    ``at`` (v14 was no canary yet), where a record exists."""
    if at is None:
        return list(versions)
    kept = [v for v in versions if v.created_at is None or v.created_at <= at]
    if conn is None or not kept:
        return kept
    recorded = _recorded_aliases(conn, kept[0].name, at)
    if recorded is None:
        return kept  # nothing recorded before then: the registry's aliases now
    return [
        replace(v, aliases=tuple(a for a, ver in sorted(recorded.items()) if ver == v.version))
        for v in kept
    ]
