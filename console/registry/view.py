"""What the Registry and Diff screens (and ``llmdeck registry|diff``) show.

Every listing snapshots each name's alias map into the workspace ``history``
table (``kind="alias"``), so alias moves are known even where the backend
keeps no history. Lineage and per-version traffic come from the workspace
request log: lineage is one GROUP BY over the ``(prompt_version, ts)`` index,
cached per whole hour (console/lineage.py); traffic reads the per-minute and
per-hour rollups, never the request table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from connectors.base import Registry, RegistryEntry
from connectors.errors import NotFound
from connectors.metrics.workspace import _pieces, quantile  # same rollup reads as the panels
from connectors.records import PromptVersion
from connectors.workspace.schema import N_LAT_BUCKETS
from connectors.workspace.store import from_ms, snapshot_history
from console.core import clock
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.diff.compare import VersionDiff, compare
from console.registry.lineage import (
    LineageRow as LineageRow,
)  # re-exported for screens and commands
from console.registry.lineage import lineage as lineage


def registry_of(session: Session) -> Registry:
    """The profile's registry. Raises LlmdeckError when it has none."""
    registry = session.registry()
    if registry is None:
        raise LlmdeckError(f"profile {session.profile.name!r} has no registry connector")
    return registry


def problems(registry: Registry) -> list[str]:
    """The connector's one-line complaints about broken entries (files, tags)."""
    return list(getattr(registry, "errors", []) or [])


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
    registry = registry_of(session)
    prompts = registry.entries("prompt")
    models = registry.entries("model")
    changed = 0
    if session.profile.workspace is not None:
        changed = snapshot_aliases(session.store(), registry.kind, [*prompts, *models])
    return Listing(prompts, models, problems(registry), changed)


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


@dataclass(frozen=True)
class VersionTraffic:
    """What one prompt version served in a window. Rates are fractions; None: no traffic."""

    version: str
    requests: int
    refusal_rate: float | None
    cost_per_request: float | None
    latency_p95_ms: float | None
    output_tokens: float | None


def traffic(
    conn: sqlite3.Connection, prompt_id: str, start: datetime, end: datetime
) -> dict[str, VersionTraffic]:
    """Per-version traffic of ``prompt_id`` over [start, end), from the rollups."""
    lat = ", ".join(f"SUM(lat_{i})" for i in range(N_LAT_BUCKETS))
    sums: dict[str, list[float]] = {}
    for table, lo, hi in _pieces(int(start.timestamp()), int(end.timestamp())):
        if lo >= hi:
            continue
        rows = conn.execute(
            f"SELECT prompt_version, SUM(n), SUM(refusals), SUM(cost_usd), SUM(tokens_out), {lat} "
            f"FROM {table} WHERE bucket >= ? AND bucket < ? AND prompt_id = ? GROUP BY 1",
            (lo, hi, prompt_id),
        )
        for version, *vals in rows:
            acc = sums.setdefault(str(version), [0.0] * len(vals))
            for i, v in enumerate(vals):
                acc[i] += v or 0
    out = {}
    for version, (n, refusals, cost, tokens_out, *buckets) in sums.items():
        out[version] = VersionTraffic(
            version,
            int(n),
            refusals / n if n else None,
            cost / n if n else None,
            quantile(0.95, buckets),
            tokens_out / n if n else None,
        )
    return out


def newest_in_traffic(conn: sqlite3.Connection, start: datetime, end: datetime) -> str | None:
    """``prompt@version`` of the prompt version that served in [start, end) and
    first served most recently: what changed last, the on-call's first suspect.
    None when nothing served. Reads the hourly rollup only."""
    row = conn.execute(
        "SELECT prompt_id, prompt_version, MIN(bucket) AS first FROM rollup_hour "
        "WHERE prompt_id != '' GROUP BY 1, 2 HAVING MAX(bucket) >= ? AND first < ? "
        "ORDER BY first DESC LIMIT 1",
        (int(start.timestamp()) // 3600 * 3600, int(end.timestamp())),
    ).fetchone()
    return f"{row[0]}@{row[1]}" if row else None


def split_ref(text: str) -> tuple[str, str]:
    """``NAME@REF`` -> (name, ref); ``v14`` means version 14. Raises LlmdeckError otherwise."""
    name, sep, ref = text.rpartition("@")
    if not sep or not name or not ref:
        raise LlmdeckError(f"{text!r}: expected NAME@VERSION or NAME@ALIAS")
    if ref[0] in "vV" and ref[1:].isdigit():  # "v14" as the screens print it
        ref = ref[1:]
    return name, ref


def predecessor(versions: Sequence[PromptVersion], version: str) -> PromptVersion | None:
    """The version listed just before ``version`` (None for the first)."""
    for i, v in enumerate(versions):
        if v.version == version:
            return versions[i - 1] if i else None
    return None


def flag_versions(session: Session, key: str) -> tuple[str, str, str]:
    """The prompt and the two versions a flag routes between: ``(name, older, newer)``.

    The flag names its prompt in ``metadata.prompt`` and each variant's value is a
    prompt version (the demo's rollout flags). Raises LlmdeckError otherwise.
    """
    flags = session.flags()
    if flags is None:
        raise LlmdeckError(f"profile {session.profile.name!r} has no flags connector")
    flag = flags.flag(key)
    name = flag.metadata.get("prompt", "")
    env = flag.env(session.profile.environment) or (
        flag.environments[0] if flag.environments else None
    )
    values = sorted(
        {str(v.value) for v in (env.variants if env else ()) if isinstance(v.value, str | int)},
        key=lambda v: (len(v), v),
    )
    if not name or len(values) < 2:
        raise LlmdeckError(
            f"flag {key!r} does not route between prompt versions "
            "(needs metadata.prompt and variants whose values are versions)"
        )
    return name, values[-2], values[-1]


@dataclass(frozen=True)
class DiffView:
    """A comparison and the traffic each side served over the same window."""

    diff: VersionDiff
    traffic: Mapping[str, VersionTraffic]
    start: datetime
    end: datetime
    errors: list[str]


def load_diff(
    session: Session, name: str, a: str, b: str | None, start: datetime, end: datetime
) -> DiffView:
    """Compare ``name@a`` with ``name@b`` (``b`` None: ``a`` against its predecessor).

    Raises NotFound (unknown name, version or alias) and other ConnectorErrors.
    """
    registry = registry_of(session)
    if b is None:
        newer = registry.get(name, a)
        older = predecessor(registry.versions(name), newer.version)
        if older is None:
            raise NotFound(f"{name}@{a}: the first version has no predecessor")
    else:
        older, newer = registry.get(name, a), registry.get(name, b)
    served: dict[str, VersionTraffic] = {}
    if session.profile.workspace is not None:
        try:
            served = traffic(session.store(), name, start, end)
        except (sqlite3.Error, LlmdeckError):
            served = {}  # no request log: the diff itself still shows
    return DiffView(compare(older, newer), served, start, end, problems(registry))
