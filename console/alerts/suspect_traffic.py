"""The traffic an alert's suspects are judged on: its scope's requests around
the onset, cut into per-minute cells by the dimensions a change can touch.

Two reads of the request table over the window, both on its ``(route, ts)``
or ``(tenant, ts)`` index. The model digest, system fingerprint, safety policy
version and retrieval index snapshot are not rollup dimensions, so finding a
new one means reading rows: ``sample`` reads one request in k (a rowid filter
the index answers, so the others are never fetched) for the values and their
first request. ``cells`` then reads every request once, grouped by minute,
route, prompt, version and model, and by those other dimensions only for the
values under judgement, with the alert's signal summed per cell: exact
latency thresholds and cost variances, which the rollups cannot give.
Grouping by every dimension in full, in one read, cost twice as much (115 ms
against about 50 ms at 1M records). The rollups answer what they answer exactly and
cheaply: the baseline before the window and which prompt versions and models
served in the look-back.

A profile whose request log is not the workspace has no rollups and no SQL:
the same cells are built from the log's pages, capped (``LOG_CAP``), and the
cap is named in the notes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from connectors.base import RequestFilter, RequestLog
from connectors.records import RequestRecord
from connectors.workspace.rollups import pieces
from connectors.workspace.schema import LATENCY_BOUNDS_MS, N_LAT_BUCKETS
from connectors.workspace.store import from_ms, ts_ms

# The dimensions of a cell, in order. ``policy`` is ``safety.policy_version``,
# ``snapshot`` is ``retrieval.index_snapshot``.
DIMS: tuple[str, ...] = (
    "route",
    "prompt_id",
    "prompt_version",
    "model_name",
    "model_digest",
    "system_fingerprint",
    "flag_variant",
    "policy",
    "snapshot",
)
DIM = {name: i for i, name in enumerate(DIMS)}
ROLLUP_DIMS = ("prompt_id", "prompt_version", "model_name")
# The dimensions a change is found in by sampling the window's requests.
SAMPLED = ("model_digest", "system_fingerprint", "policy", "snapshot")
SAMPLE = 4000  # about this many requests of the window are read to find them
MINUTE_MS = 60_000
LOG_CAP = 50_000  # requests read per window through a non-workspace request log

_POLICY_SQL = "CAST(json_extract(safety, '$.policy_version') AS TEXT)"
_SNAPSHOT_SQL = "CAST(json_extract(retrieval, '$.index_snapshot') AS TEXT)"
# A store written by another tool may hold a JSON column that is not JSON:
# json_extract then fails the whole query, so the read is retried with guards
# (which cost a second parse of every row, so only when needed).
_GUARDED = {
    _POLICY_SQL: f"CASE WHEN json_valid(safety) THEN {_POLICY_SQL} END",
    _SNAPSHOT_SQL: f"CASE WHEN json_valid(retrieval) THEN {_SNAPSHOT_SQL} END",
}
_DIM_SQL = {
    **{d: d for d in DIMS[:7]},
    "policy": _POLICY_SQL,
    "snapshot": _SNAPSHOT_SQL,
}


@dataclass(frozen=True, slots=True)
class Agg:
    """Requests, the sum of the signal's per-request value (the bad count for a
    rate) and the sum of its squares (None where it is not known: rollups)."""

    n: int = 0
    s: float = 0.0
    ss: float | None = 0.0

    def __add__(self, other: Agg) -> Agg:
        ss = None if self.ss is None or other.ss is None else self.ss + other.ss
        return Agg(self.n + other.n, self.s + other.s, ss)

    @property
    def rate(self) -> float | None:
        """The proportion (rate signals) or mean (mean signals); None without requests."""
        return self.s / self.n if self.n else None

    @property
    def var(self) -> float | None:
        """The sample variance of the per-request value; None when unknown or n < 2."""
        if self.ss is None or self.n < 2:
            return None
        return max(0.0, (self.ss - self.s * self.s / self.n) / (self.n - 1))


def total(aggs: Iterable[Agg]) -> Agg:
    out = Agg()
    for a in aggs:
        out = out + a
    return out


@dataclass(frozen=True, slots=True)
class Cell:
    """The requests of one minute with one combination of ``DIMS`` values."""

    minute: int  # ms at the start of the minute
    dims: tuple[str, ...]
    agg: Agg
    first: int  # ms of the earliest request in the cell


@dataclass(frozen=True)
class Signal:
    """What the alert measures, per request.

    ``sql`` is the per-row value in the request table (a 0/1 predicate for a
    rate, a number for a mean), ``value`` the same for a record.
    """

    name: str  # refusal, error, block, latency, cost
    label: str  # "refusals", "over 6500 ms", "cost per request"
    mean: bool
    sql: str
    value: Callable[[RequestRecord], float]
    threshold: float | None = None

    def rollup_sums(self) -> str:
        """The rollup columns summed for the baseline (the bad count or the total)."""
        if self.name == "refusal":
            return "SUM(refusals)"
        if self.name == "error":
            return "SUM(errors) + SUM(timeouts)"
        if self.name == "block":
            return "SUM(blocks)"
        if self.name == "cost":
            return "SUM(cost_usd)"
        return ", ".join(f"SUM(lat_{i})" for i in range(N_LAT_BUCKETS))


def slow_count(buckets: Sequence[float], threshold: float) -> float:
    """Requests slower than ``threshold`` ms from latency bucket counts
    (LATENCY_BOUNDS_MS edges, then +Inf): exact when the threshold is a bucket
    edge, otherwise the straddling bucket is split linearly (the +Inf bucket,
    which has no width, counts in full)."""
    out = 0.0
    lo = 0.0
    for i, count in enumerate(buckets):
        hi = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else None
        if hi is None or lo >= threshold:
            out += count
        elif hi > threshold:
            out += count * (hi - threshold) / (hi - lo)
        if hi is not None:
            lo = hi
    return out


@dataclass(frozen=True)
class Scope:
    """The traffic the alert is about: ``column`` (route or tenant) = ``value``."""

    column: str
    value: str
    shown: str  # how it is named in evidence

    def where(self, rec: RequestRecord) -> bool:
        return str(getattr(rec, self.column)) == self.value


class WorkspaceTraffic:
    """Cells, baseline and look-back from the workspace store."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.notes: list[str] = []

    def _run(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "JSON" not in str(exc):
                raise
            for fast, guarded in _GUARDED.items():
                sql = sql.replace(fast, guarded)
            return self.conn.execute(sql, params).fetchall()

    def sample(self, scope: Scope, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """The values of the non-rollup dimensions in [start, end), each with its
        first request (ms) among a sample of about SAMPLE requests.

        One request in k (by rowid, which the ``(route, ts)`` index holds, so
        the other rows are never read): a value that serves fewer than k
        requests of the window may be missed, and could not explain its shift.
        """
        where = f"WHERE {scope.column} = ? AND ts >= ? AND ts < ?"
        params = (scope.value, ts_ms(start), ts_ms(end))
        n = self.conn.execute(f"SELECT COUNT(*) FROM requests {where}", params).fetchone()[0]
        k = max(1, int(n) // SAMPLE)
        cols = ", ".join(_DIM_SQL[d] for d in SAMPLED)
        rows = self._run(
            f"SELECT {cols}, MIN(ts) FROM requests {where} AND rowid % {k} = 0 "
            f"GROUP BY {', '.join(str(i + 1) for i in range(len(SAMPLED)))}",
            params,
        )
        out: dict[str, dict[str, int]] = {d: {} for d in SAMPLED}
        for *values, first in rows:
            for dim, value in zip(SAMPLED, values, strict=True):
                if value is not None and value != "":
                    seen = out[dim].get(str(value))
                    out[dim][str(value)] = first if seen is None else min(seen, first)
        return out

    def cells(
        self,
        scope: Scope,
        signal: Signal,
        start: datetime,
        end: datetime,
        extra: Mapping[str, Collection[str]],
    ) -> list[Cell]:
        """The scope's requests over [start, end) in cells.

        The rollup dimensions are always split out; another dimension only by
        the ``extra`` values asked for (the changes to judge), every other
        value of it reading "" (grouping by every digest, fingerprint, policy
        and snapshot doubled the cost of the read).
        """
        exprs: list[str] = []
        params: list[Any] = []
        for d in DIMS:
            if d == scope.column:
                exprs.append("?")
                params.append(scope.value)
            elif d in ("route", *ROLLUP_DIMS):
                exprs.append(f"COALESCE({d}, '')")
            elif extra.get(d):
                values = sorted(extra[d])
                marks = ", ".join("?" * len(values))
                exprs.append(f"CASE WHEN {_DIM_SQL[d]} IN ({marks}) THEN {_DIM_SQL[d]} ELSE '' END")
                params += values
            else:
                exprs.append("''")
        v = signal.sql
        groups = ", ".join(str(i) for i in range(1, len(DIMS) + 2))
        sql = (
            f"SELECT ts / {MINUTE_MS} * {MINUTE_MS}, {', '.join(exprs)}, COUNT(*), SUM({v}), "
            f"SUM(({v}) * ({v})), MIN(ts) FROM requests "
            f"WHERE {scope.column} = ? AND ts >= ? AND ts < ? GROUP BY {groups}"
        )
        rows = self._run(sql, [*params, scope.value, ts_ms(start), ts_ms(end)])
        k = len(DIMS)
        return [
            Cell(r[0], tuple(r[1 : k + 1]), Agg(r[k + 1], r[k + 2] or 0.0, r[k + 3] or 0.0), r[-1])
            for r in rows
        ]

    def _rollup(self, scope: Scope, select: str, start: datetime, end: datetime) -> list[Any]:
        rows: list[Any] = []
        for table, lo, hi in pieces(int(start.timestamp()), int(end.timestamp())):
            if lo < hi:
                rows += self.conn.execute(
                    f"SELECT {select} FROM {table} WHERE bucket >= ? AND bucket < ? "
                    f"AND {scope.column} = ?",
                    (lo, hi, scope.value),
                ).fetchall()
        return rows

    def baseline(self, scope: Scope, signal: Signal, start: datetime, end: datetime) -> Agg:
        """The scope's signal over [start, end) from the rollups (no variance)."""
        n, s = 0, 0.0
        for row in self._rollup(scope, f"SUM(n), {signal.rollup_sums()}", start, end):
            if not row[0]:
                continue
            n += int(row[0])
            if signal.name == "latency":
                s += slow_count([v or 0 for v in row[1:]], signal.threshold or 0.0)
            else:
                s += float(row[1] or 0)
        return Agg(n, s, None)

    def served(self, scope: Scope, start: datetime, end: datetime) -> set[tuple[str, str, str]]:
        """(prompt_id, prompt_version, model_name) that served the scope in [start, end)."""
        cols = ", ".join(f"COALESCE({d}, '')" for d in ROLLUP_DIMS)
        rows = self._rollup(scope, f"DISTINCT {cols}", start, end)
        return {(str(a), str(b), str(c)) for a, b, c in rows}

    def seen(self, scope: Scope, dim: str, value: str, start: datetime, end: datetime) -> bool:
        """Whether a request of the scope in [start, end) had ``dim`` = ``value``.

        Read newest first, so a value that served recently is found at once; a
        value that is really new costs one pass over the look-back's rows.
        """
        sql = (
            f"SELECT 1 FROM requests WHERE {scope.column} = ? AND ts >= ? AND ts < ? "
            f"AND {_DIM_SQL[dim]} = ? ORDER BY ts DESC LIMIT 1"
        )
        params = (scope.value, ts_ms(start), ts_ms(end), value)
        try:
            return self.conn.execute(sql, params).fetchone() is not None
        except sqlite3.OperationalError as exc:
            if "JSON" not in str(exc):
                raise
            guarded = sql.replace(_DIM_SQL[dim], _GUARDED.get(_DIM_SQL[dim], _DIM_SQL[dim]))
            return self.conn.execute(guarded, params).fetchone() is not None


def record_dims(rec: RequestRecord) -> tuple[str, ...]:
    """A record's ``DIMS`` values, as the SQL reader computes them."""
    safety = rec.safety if isinstance(rec.safety, dict) else {}
    retrieval = rec.retrieval if isinstance(rec.retrieval, dict) else {}

    def text(v: Any) -> str:
        return "" if v is None else str(v)

    return (
        rec.route,
        rec.prompt_id,
        rec.prompt_version,
        rec.model_name,
        rec.model_digest,
        rec.system_fingerprint,
        rec.flag_variant,
        text(safety.get("policy_version")),
        text(retrieval.get("index_snapshot")),
    )


def cells_of(records: Iterable[RequestRecord], signal: Signal) -> list[Cell]:
    """Records grouped into cells, as ``WorkspaceTraffic.cells`` groups rows."""
    acc: dict[tuple[int, tuple[str, ...]], list[float]] = {}
    for rec in records:
        ms = ts_ms(rec.ts)
        key = (ms // MINUTE_MS * MINUTE_MS, record_dims(rec))
        v = signal.value(rec)
        a = acc.setdefault(key, [0, 0.0, 0.0, ms])
        a[0] += 1
        a[1] += v
        a[2] += v * v
        a[3] = min(a[3], ms)
    return [
        Cell(minute, dims, Agg(int(a[0]), a[1], a[2]), int(a[3]))
        for (minute, dims), a in sorted(acc.items())
    ]


class LogTraffic:
    """Cells, baseline and look-back through the ``RequestLog`` interface only.

    The interface pages requests newest first; each window reads at most
    ``LOG_CAP`` of them and says so when it stopped there.
    """

    def __init__(self, log: RequestLog, cap: int = LOG_CAP) -> None:
        self.log = log
        self.cap = cap
        self.notes: list[str] = [
            f"request log {getattr(log, 'kind', '?')} is not the workspace: "
            "no rollups, figures from its pages"
        ]
        self._cache: dict[tuple[str, str, int, int], list[RequestRecord]] = {}

    def _records(self, scope: Scope, start: datetime, end: datetime) -> list[RequestRecord]:
        key = (scope.column, scope.value, ts_ms(start), ts_ms(end))
        if key in self._cache:
            return self._cache[key]
        flt = RequestFilter(since=start, until=end)
        flt = replace(flt, route=scope.value) if scope.column == "route" else flt
        flt = replace(flt, tenant=scope.value) if scope.column == "tenant" else flt
        out: list[RequestRecord] = []
        cursor: str | None = None
        while len(out) < self.cap:
            page = self.log.page(flt, limit=min(500, self.cap - len(out)), cursor=cursor)
            out += [r for r in page.records if scope.where(r)]
            cursor = page.next_cursor
            if cursor is None:
                break
        if cursor is not None:
            since = min((r.ts for r in out), default=end)
            self.notes.append(
                f"read the newest {len(out):,} requests of {from_ms(key[2]):%H:%M}-"
                f"{from_ms(key[3]):%H:%M} only (from {since:%H:%M})"
            )
        self._cache[key] = out
        return out

    def sample(self, scope: Scope, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """Every value of the non-rollup dimensions with its first request (ms)."""
        out: dict[str, dict[str, int]] = {d: {} for d in SAMPLED}
        for rec in self._records(scope, start, end):
            dims, ms = record_dims(rec), ts_ms(rec.ts)
            for d in SAMPLED:
                value = dims[DIM[d]]
                if value and ms < out[d].get(value, ms + 1):
                    out[d][value] = ms
        return out

    def cells(
        self,
        scope: Scope,
        signal: Signal,
        start: datetime,
        end: datetime,
        extra: Mapping[str, Collection[str]],
    ) -> list[Cell]:
        """Cells split by every dimension (a finer split than ``extra`` asks for)."""
        return cells_of(self._records(scope, start, end), signal)

    def baseline(self, scope: Scope, signal: Signal, start: datetime, end: datetime) -> Agg:
        recs = self._records(scope, start, end)
        return Agg(len(recs), sum(signal.value(r) for r in recs), None)

    def served(self, scope: Scope, start: datetime, end: datetime) -> set[tuple[str, str, str]]:
        return {
            (r.prompt_id, r.prompt_version, r.model_name) for r in self._records(scope, start, end)
        }

    def seen(self, scope: Scope, dim: str, value: str, start: datetime, end: datetime) -> bool:
        i = DIM[dim]
        return any(record_dims(r)[i] == value for r in self._records(scope, start, end))
