"""Metrics computed from the workspace's request records.

Every figure comes from the per-minute and per-hour rollups that ingest keeps
up to date, never from a scan of the request table: a scan costs about a
second at 1M rows, a rollup read a few milliseconds. Long ranges read whole
hours from the hourly rollup and the ragged edges from the per-minute one.
Percentiles are estimated from latency histogram buckets (see ``quantile``).
When a signal last had data (``newest``) is one index seek per group on the
request table's (dimension, ts) indexes: exact to the millisecond, and as
cheap as a rollup read.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import GROUPINGS, SIGNALS, MetricsSource
from connectors.options import Option
from connectors.records import BackendStatus, Kpis, MetricSeries
from connectors.workspace.connection import PerThreadStore
from connectors.workspace.late_rows import StoreWatch
from connectors.workspace.rollups import pieces, quantile, share_above
from connectors.workspace.schema import N_LAT_BUCKETS

_SUMS = (
    "n",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "errors",
    "timeouts",
    "blocks",
    "refusals",
    "latency_sum",
    *(f"lat_{i}" for i in range(N_LAT_BUCKETS)),
)
_GROUP_EXPR = {
    "none": "''",
    "model": "model_name",
    "prompt_version": "prompt_id || '@' || prompt_version",
    "route": "route",
    "tenant": "tenant",
}
# The newest request of one group: a seek on the request table's (dimension, ts)
# index (SQLite answers MAX over an index prefix without scanning it).
_NEWEST_OF = {
    "none": "SELECT MAX(ts) FROM requests WHERE ts <= ?",
    "model": "SELECT MAX(ts) FROM requests WHERE model_name = ? AND ts <= ?",
    "route": "SELECT MAX(ts) FROM requests WHERE route = ? AND ts <= ?",
    "tenant": "SELECT MAX(ts) FROM requests WHERE tenant = ? AND ts <= ?",
    # Grouped as prompt_id@version; the index is on the version alone, so read it
    # newest first and stop at the first row of this prompt.
    "prompt_version": "SELECT ts FROM requests WHERE prompt_version = ? AND prompt_id = ? "
    "AND ts <= ? ORDER BY ts DESC LIMIT 1",
}


class WorkspaceMetrics(PerThreadStore, MetricsSource):
    """The metrics capability over a workspace store (``store.db``)."""

    kind = "workspace"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("path", Path, None, "store.db (default: the profile's workspace)"),
    )

    def __init__(self, *, path: str | Path) -> None:
        PerThreadStore.__init__(self, path)
        self._late = StoreWatch(Path(path))

    def oldest_late_sample(self) -> float | None:
        return self._late.oldest_new()

    def ping(self) -> BackendStatus:
        try:
            n = self._conn().execute("SELECT COUNT(*) FROM rollup_hour").fetchone()[0]
        except Exception as exc:
            return BackendStatus(ok=False, detail=str(exc))
        return BackendStatus(
            ok=True, version="sqlite " + sqlite3.sqlite_version, detail=f"{n} hourly rollups"
        )

    def _sums(self, start: datetime, end: datetime, group: str = "none") -> dict[str, list[float]]:
        expr = _GROUP_EXPR[group]
        cols = ", ".join(f"SUM({c})" for c in _SUMS)
        out: dict[str, list[float]] = {}
        for table, lo, hi in pieces(int(start.timestamp()), int(end.timestamp())):
            if lo >= hi:
                continue
            rows = self._conn().execute(
                f"SELECT {expr}, {cols} FROM {table} WHERE bucket >= ? AND bucket < ? GROUP BY 1",
                (lo, hi),
            )
            for key, *vals in rows:
                acc = out.setdefault(key, [0.0] * len(_SUMS))
                for i, v in enumerate(vals):
                    acc[i] += v or 0
        return out

    def kpis(self, start: datetime, end: datetime) -> Kpis:
        sums = self._sums(start, end).get("", [0.0] * len(_SUMS))
        s = dict(zip(_SUMS, sums, strict=True))
        minutes = max((end - start).total_seconds() / 60, 1e-9)
        n = int(s["n"])
        return Kpis(
            start=start,
            end=end,
            requests=n,
            requests_per_min=n / minutes,
            tokens_in_per_min=s["tokens_in"] / minutes,
            tokens_out_per_min=s["tokens_out"] / minutes,
            cost_per_hour=s["cost_usd"] / minutes * 60,
            latency_p95_ms=quantile(0.95, sums[9:]),
            error_rate=(s["errors"] + s["timeouts"]) / n if n else None,
            block_rate=s["blocks"] / n if n else None,
            refusal_rate=s["refusals"] / n if n else None,
        )

    def series(
        self, signal: str, start: datetime, end: datetime, step_s: int, group_by: str = "none"
    ) -> list[MetricSeries]:
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r} (known: {', '.join(SIGNALS)})")
        if group_by not in GROUPINGS:
            raise ValueError(f"unknown grouping {group_by!r} (known: {', '.join(GROUPINGS)})")
        step_s = max(60, int(step_s))
        table = "rollup_hour" if step_s >= 3600 and step_s % 3600 == 0 else "rollup_minute"
        lo, hi = int(start.timestamp()), int(end.timestamp())
        grouped = self._grouped(table, group_by, lo, hi, step_s)
        n_steps = max(1, math.ceil((hi - lo) / step_s))
        out = []
        for key in sorted(grouped):
            points = tuple(
                (float(lo + i * step_s), _signal_value(signal, grouped[key].get(i), step_s))
                for i in range(n_steps)
            )
            labels = {} if group_by == "none" else {group_by: key}
            out.append(MetricSeries(name=signal, labels=labels, points=points))
        return out

    def newest(
        self, signal: str, at: datetime, lookback: timedelta, group_by: str = "none"
    ) -> dict[str, datetime]:
        """Every signal here comes from the same request records, so each has the
        same newest moment: that of the newest request (of the group)."""
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r} (known: {', '.join(SIGNALS)})")
        if group_by not in GROUPINGS:
            raise ValueError(f"unknown grouping {group_by!r} (known: {', '.join(GROUPINGS)})")
        conn = self._conn()
        at_ms = int(at.timestamp() * 1000)
        start_ms = int((at - lookback).timestamp() * 1000)
        # Eleven signals ask the same question on each refresh: answer it once per
        # store version, like ``_grouped``.
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        key = (group_by, at_ms, start_ms, version)
        last = getattr(self._local, "newest", None)
        if last is not None and last[0] == key:
            return dict(last[1])
        if group_by == "none":
            groups: list[tuple[Any, ...]] = [("", ())]
        else:
            # The groups with data in the lookback, from the hourly rollup (a few
            # rows an hour); the hour of ``at`` may hold later rows, so the seek
            # below bounds by ``at`` and the window check drops what is too old.
            first_hour = (at - lookback).timestamp() // 3600 * 3600
            cols = "prompt_id, prompt_version" if group_by == "prompt_version" else None
            expr = cols or _GROUP_EXPR[group_by]
            rows = conn.execute(
                f"SELECT DISTINCT {expr} FROM rollup_hour WHERE bucket >= ? AND bucket <= ?",
                (int(first_hour), int(at.timestamp())),
            ).fetchall()
            if group_by == "prompt_version":
                groups = [(f"{pid}@{ver}", (ver, pid)) for pid, ver in rows]
            else:
                groups = [(str(value), (value,)) for (value,) in rows]
        out: dict[str, datetime] = {}
        for name, args in groups:
            row = conn.execute(_NEWEST_OF[group_by], (*args, at_ms)).fetchone()
            if row and row[0] is not None and row[0] > start_ms:
                out[name] = datetime.fromtimestamp(row[0] / 1000, UTC)
        self._local.newest = (key, out)
        return dict(out)

    def slow_share(
        self,
        threshold_ms: float,
        start: datetime,
        end: datetime,
        step_s: int,
        group_by: str = "none",
    ) -> list[MetricSeries]:
        if group_by not in GROUPINGS:
            raise ValueError(f"unknown grouping {group_by!r} (known: {', '.join(GROUPINGS)})")
        step_s = max(60, int(step_s))
        table = "rollup_hour" if step_s >= 3600 and step_s % 3600 == 0 else "rollup_minute"
        lo, hi = int(start.timestamp()), int(end.timestamp())
        grouped = self._grouped(table, group_by, lo, hi, step_s)
        n_steps = max(1, math.ceil((hi - lo) / step_s))
        out = []
        for key in sorted(grouped):
            points = tuple(
                (float(lo + i * step_s), share_above(threshold_ms, grouped[key][i][9:]))
                if i in grouped[key]
                else (float(lo + i * step_s), math.nan)
                for i in range(n_steps)
            )
            labels = {} if group_by == "none" else {group_by: key}
            out.append(MetricSeries(name="slow_share", labels=labels, points=points))
        return out

    def _grouped(
        self, table: str, group_by: str, lo: int, hi: int, step_s: int
    ) -> dict[str, dict[int, list[float]]]:
        """Rollup sums per group and step. A chart refresh asks for eleven signals
        over the same window: the scan runs once and is reused until the store
        changes (``PRAGMA data_version`` moves when another connection writes)."""
        conn = self._conn()
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        key = (table, group_by, lo, hi, step_s, version)
        last = getattr(self._local, "grouped", None)
        if last is not None and last[0] == key:
            return last[1]
        cols = ", ".join(f"SUM({c})" for c in _SUMS)
        rows = conn.execute(
            f"SELECT {_GROUP_EXPR[group_by]}, (bucket - ?) / ? AS step, {cols} FROM {table} "
            "WHERE bucket >= ? AND bucket < ? GROUP BY 1, 2",
            (lo, step_s, lo, hi),
        )
        grouped: dict[str, dict[int, list[float]]] = defaultdict(dict)
        for group, step, *vals in rows:
            grouped[group][int(step)] = [v or 0.0 for v in vals]
        self._local.grouped = (key, grouped)
        return grouped


def _signal_value(signal: str, sums: list[float] | None, step_s: int) -> float:
    if not sums:
        return 0.0 if signal in ("requests", "tokens_in", "tokens_out", "cost") else math.nan
    s = dict(zip(_SUMS, sums, strict=True))
    n = s["n"]
    per_min = 60.0 / step_s
    match signal:
        case "requests":
            return n * per_min
        case "tokens_in":
            return s["tokens_in"] * per_min
        case "tokens_out":
            return s["tokens_out"] * per_min
        case "cost":
            return s["cost_usd"] * 3600.0 / step_s
        case "latency_p50" | "latency_p95" | "latency_p99":
            q = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}[signal]
            value = quantile(q, sums[9:])
            return math.nan if value is None else value
        case "error_rate":
            return (s["errors"] + s["timeouts"]) / n if n else math.nan
        case "block_rate":
            return s["blocks"] / n if n else math.nan
        case "refusal_rate":
            return s["refusals"] / n if n else math.nan
        case _:  # output_tokens
            return s["tokens_out"] / n if n else math.nan
