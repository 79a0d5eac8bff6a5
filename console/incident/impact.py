"""What an incident cost: requests, refusals, errors, blocks, dollars and the
tenants hit over its window, the per-minute rates for its charts, and the
effect of each action taken (rates before and after it).

Every figure comes from the workspace's ``rollup_minute`` and ``rollup_hour``
tables (kept by ingest; see ``connectors/metrics/workspace.py``), never from a
scan of ``requests``: a scan costs about a second at 1M rows, a rollup read a
few milliseconds. Rollups are per minute, so a window is widened to whole
minutes: from the minute it starts in to the end of the minute it ends in.

A *scope* narrows the figures to rollup dimensions (``{"route":
("/support/chat",)}``); an empty scope is all traffic.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.workspace.rollups import pieces
from connectors.workspace.schema import ROLLUP_DIMS
from connectors.workspace.store import from_ms, ts_ms
from console.changelog.audit_rows import loads
from console.core import tenants as tenant_names

Scope = Mapping[str, Sequence[str]]
# At most this many points per chart: a week-long incident is drawn hourly.
MAX_POINTS = 120
EFFECT_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Impact:
    """Figures over [start, end) (whole minutes) for ``scope``.

    ``errors`` counts errors and timeouts (as the error rate everywhere does);
    ``tenants`` are the display names of the tenants with at least one refused,
    failed or blocked request, ``tenants_seen`` how many sent any.
    """

    start: datetime
    end: datetime
    scope: dict[str, tuple[str, ...]]
    requests: int
    refusals: int
    errors: int
    blocks: int
    cost_usd: float
    tenants: tuple[str, ...] = ()
    tenants_seen: int = 0

    @property
    def refusal_rate(self) -> float | None:
        return self.refusals / self.requests if self.requests else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def block_rate(self) -> float | None:
        return self.blocks / self.requests if self.requests else None


@dataclass(frozen=True)
class Point:
    """One chart step: requests, refusals and errors in [ts, ts + step)."""

    ts: datetime
    requests: int
    refusals: int
    errors: int

    @property
    def refusal_rate(self) -> float:
        return self.refusals / self.requests if self.requests else math.nan

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else math.nan


@dataclass(frozen=True)
class Rates:
    """Requests, refusal and error rates over one window (None without requests)."""

    start: datetime
    end: datetime
    requests: int
    refusal_rate: float | None
    error_rate: float | None


@dataclass(frozen=True)
class Effect:
    """What one done write changed on its scope: ``before`` is the 15 min up to
    the minute of the write, ``after`` the 15 min from the minute after it
    (shorter when that reaches past ``now``: ``partial``)."""

    ts: datetime
    action: str
    target: str
    who: str
    scope_label: str
    before: Rates
    after: Rates
    partial: bool = False


@dataclass(frozen=True)
class Scoped:
    """A scope and how to name it."""

    where: dict[str, tuple[str, ...]] = field(default_factory=dict)
    label: str = "all traffic"


def _minute_floor(ts: datetime) -> int:
    return int(ts.timestamp()) // 60 * 60


def _minute_ceil(ts: datetime) -> int:
    return -(-math.ceil(ts.timestamp()) // 60) * 60


def _where(scope: Scope) -> tuple[str, list[object]]:
    sql, params = "", list[object]()
    for dim, values in scope.items():
        if dim not in ROLLUP_DIMS:
            raise ValueError(f"not a rollup dimension: {dim}")
        values = tuple(values)
        if values:
            sql += f" AND {dim} IN ({', '.join('?' * len(values))})"
            params += list(values)
    return sql, params


def _sums(
    conn: sqlite3.Connection, lo: int, hi: int, scope: Scope, group: str = "''"
) -> dict[str, list[float]]:
    """Sums of n, refusals, errors+timeouts, blocks, cost per ``group`` over
    [lo, hi) seconds: whole hours from the hourly rollup, the rest per minute."""
    extra, params = _where(scope)
    out: dict[str, list[float]] = {}
    for table, a, b in pieces(lo, hi):
        if a >= b:
            continue
        rows = conn.execute(
            f"SELECT {group}, SUM(n), SUM(refusals), SUM(errors) + SUM(timeouts), SUM(blocks), "
            f"SUM(cost_usd) FROM {table} WHERE bucket >= ? AND bucket < ?{extra} GROUP BY 1",
            (a, b, *params),
        )
        for key, *vals in rows:
            acc = out.setdefault(str(key), [0.0] * 5)
            for i, v in enumerate(vals):
                acc[i] += v or 0
    return out


def measure(
    conn: sqlite3.Connection,
    start: datetime,
    end: datetime,
    scope: Scope | None = None,
    names: Mapping[str, str] | None = None,
) -> Impact:
    """The incident's figures over [start, end) for ``scope`` (all traffic when
    empty); ``names`` maps stored tenant ids to display names."""
    where = {k: tuple(v) for k, v in (scope or {}).items() if v}
    lo, hi = _minute_floor(start), _minute_ceil(end)
    per_tenant = _sums(conn, lo, hi, where, "tenant")
    total = [sum(v[i] for v in per_tenant.values()) for i in range(5)]
    hit = sorted(
        tenant_names.display(names or {}, t) for t, v in per_tenant.items() if v[1] or v[2] or v[3]
    )
    return Impact(
        start=from_ms(lo * 1000),
        end=from_ms(hi * 1000),
        scope=where,
        requests=int(total[0]),
        refusals=int(total[1]),
        errors=int(total[2]),
        blocks=int(total[3]),
        cost_usd=float(total[4]),
        tenants=tuple(hit),
        tenants_seen=sum(1 for v in per_tenant.values() if v[0]),
    )


def step_for(start: datetime, end: datetime, max_points: int = MAX_POINTS) -> int:
    """The chart step in seconds: a minute, or more minutes (then whole hours
    past an hour) so the window has at most ``max_points`` steps."""
    minutes = max(1, (_minute_ceil(end) - _minute_floor(start)) // 60)
    step = max(1, math.ceil(minutes / max_points))
    if step > 60:
        step = math.ceil(step / 60) * 60
    return step * 60


def series(
    conn: sqlite3.Connection,
    start: datetime,
    end: datetime,
    scope: Scope | None = None,
    step_s: int | None = None,
) -> list[Point]:
    """Requests, refusals and errors per step over [start, end), every step
    present (zero requests where there were none)."""
    lo, hi = _minute_floor(start), _minute_ceil(end)
    step = step_s or step_for(start, end)
    if step % 3600 == 0:
        lo = lo // 3600 * 3600
    table = "rollup_hour" if step % 3600 == 0 else "rollup_minute"
    extra, params = _where({k: tuple(v) for k, v in (scope or {}).items() if v})
    rows = conn.execute(
        f"SELECT (bucket - ?) / ? AS step, SUM(n), SUM(refusals), SUM(errors) + SUM(timeouts) "
        f"FROM {table} WHERE bucket >= ? AND bucket < ?{extra} GROUP BY 1",
        (lo, step, lo, hi, *params),
    ).fetchall()
    found = {int(i): (int(n or 0), int(r or 0), int(e or 0)) for i, n, r, e in rows}
    steps = max(1, math.ceil((hi - lo) / step))
    return [Point(from_ms((lo + i * step) * 1000), *found.get(i, (0, 0, 0))) for i in range(steps)]


def rates(conn: sqlite3.Connection, lo: int, hi: int, scope: Scope) -> Rates:
    """Refusal and error rates over [lo, hi) seconds (whole minutes)."""
    sums = _sums(conn, lo, hi, scope).get("", [0.0] * 5)
    n = int(sums[0])
    return Rates(
        from_ms(lo * 1000),
        from_ms(hi * 1000),
        n,
        sums[1] / n if n else None,
        sums[2] / n if n else None,
    )


def effect(
    conn: sqlite3.Connection,
    at: datetime,
    scoped: Scoped,
    now: datetime,
    *,
    action: str = "",
    target: str = "",
    who: str = "",
    window: timedelta = EFFECT_WINDOW,
) -> Effect:
    """The rates on ``scoped`` in the ``window`` before the write at ``at`` and
    after it. The minute of the write is in neither: it mixes both states."""
    minute = _minute_floor(at)
    span = int(window.total_seconds())
    after_hi = minute + 60 + span
    limit = _minute_floor(now)
    partial = after_hi > limit
    return Effect(
        ts=at,
        action=action,
        target=target,
        who=who,
        scope_label=scoped.label,
        before=rates(conn, minute - span, minute, scoped.where),
        after=rates(conn, minute + 60, max(minute + 60, min(after_hi, limit)), scoped.where),
        partial=partial,
    )


def alert_routes(conn: sqlite3.Connection, start: datetime, end: datetime) -> tuple[str, ...]:
    """The routes of the alerts that were pending or firing in [start, end],
    sorted: the ``route`` label of their ``alerts`` row, or of the alert the
    event recorded (its detail), for an alert whose row is gone."""
    rows = conn.execute(
        "SELECT a.labels, e.detail FROM alert_events e LEFT JOIN alerts a ON a.key = e.key "
        "WHERE e.ts >= ? AND e.ts <= ? AND e.event IN ('pending', 'firing')",
        (ts_ms(start), ts_ms(end)),
    ).fetchall()
    routes = set()
    for labels, detail in rows:
        recorded = loads(detail)
        for value in (
            loads(labels),
            recorded.get("labels") if isinstance(recorded, dict) else None,
        ):
            if isinstance(value, dict) and value.get("route"):
                routes.add(str(value["route"]))
    return tuple(sorted(routes))


def scope_of_target(target: str, after: object, flag_scopes: Mapping[str, Scoped]) -> Scoped:
    """What traffic a write touched: a route (``rollback /support/chat``), the
    route or model a flag names in its metadata (``flag_scopes``, from the flag
    backend), a prompt (``support-answer:production``), else all traffic.
    ``after`` is the audited state: a composite plan keys it by step target."""
    if target.startswith("/"):
        return Scoped({"route": (target,)}, f"route {target}")
    candidates = [target]
    if isinstance(after, dict):
        candidates += [str(k) for k in after]
    for name in candidates:
        if name in flag_scopes:
            return flag_scopes[name]
    for name in candidates:
        if ":" in name:
            prompt = name.split(":", 1)[0]
            return Scoped({"prompt_id": (prompt,)}, f"prompt {prompt}")
    return Scoped()
