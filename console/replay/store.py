"""Replay results in the workspace ``replays`` table, and the views over them.

The ``request`` column holds the replay request as sent (messages, params,
model, prompt version) plus ``repeat`` and ``outputs`` (every repeat's text),
so a stored result can be shown and exported without the target.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from connectors.records import ReplayResult
from connectors.workspace.store import from_ms, ts_ms
from console.replay.fidelity import VERDICTS

_COLS = (
    "replay_id",
    "request_id",
    "batch_id",
    "target",
    "ts",
    "prompt_version",
    "request",
    "output",
    "verdict",
    "similarity",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "latency_ms",
    "system_fingerprint",
    "distinct_outputs",
    "error",
)
_INSERT = (
    f"INSERT OR REPLACE INTO replays ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})"
)
_SELECT = f"SELECT {', '.join(c for c in _COLS if c != 'batch_id')} FROM replays"


def save(conn: sqlite3.Connection, result: ReplayResult, batch_id: str = "") -> None:
    """Store one result (replacing one with the same id), committed at once."""
    row = (
        result.replay_id,
        result.request_id,
        batch_id,
        result.target,
        ts_ms(result.ts),
        result.prompt_version,
        orjson.dumps(dict(result.request)).decode(),
        result.output,
        result.verdict,
        result.similarity,
        result.tokens_in,
        result.tokens_out,
        result.cost_usd,
        result.latency_ms,
        result.system_fingerprint,
        result.distinct_outputs,
        result.error,
    )
    with conn:
        conn.execute(_INSERT, row)


def _result(row: tuple[object, ...]) -> ReplayResult:
    (
        rid,
        req_id,
        target,
        ts,
        version,
        request,
        output,
        verdict,
        sim,
        t_in,
        t_out,
        usd,
        lat,
        fp,
        distinct,
        error,
    ) = row
    return ReplayResult(
        replay_id=str(rid),
        request_id=str(req_id),
        target=str(target or ""),
        ts=from_ms(int(ts or 0)),  # type: ignore[call-overload]
        request=orjson.loads(request) if request else {},  # type: ignore[arg-type]
        output=None if output is None else str(output),
        verdict=str(verdict),
        similarity=None if sim is None else float(sim),  # type: ignore[arg-type]
        tokens_in=int(t_in or 0),  # type: ignore[call-overload]
        tokens_out=int(t_out or 0),  # type: ignore[call-overload]
        cost_usd=float(usd or 0.0),  # type: ignore[arg-type]
        latency_ms=float(lat or 0.0),  # type: ignore[arg-type]
        system_fingerprint=str(fp or ""),
        distinct_outputs=int(distinct or 1),  # type: ignore[call-overload]
        prompt_version=str(version or ""),
        error=None if error is None else str(error),
    )


def get(conn: sqlite3.Connection, replay_id: str) -> ReplayResult | None:
    row = conn.execute(_SELECT + " WHERE replay_id = ?", (replay_id,)).fetchone()
    return _result(row) if row else None


def for_batch(conn: sqlite3.Connection, batch_id: str) -> list[ReplayResult]:
    """A batch's results in the order they were stored."""
    rows = conn.execute(_SELECT + " WHERE batch_id = ? ORDER BY rowid", (batch_id,)).fetchall()
    return [_result(r) for r in rows]


def for_request(conn: sqlite3.Connection, request_id: str) -> list[ReplayResult]:
    """Every replay of one request, newest first."""
    rows = conn.execute(
        _SELECT + " WHERE request_id = ? ORDER BY ts DESC, rowid DESC", (request_id,)
    ).fetchall()
    return [_result(r) for r in rows]


@dataclass(frozen=True)
class BatchSummary:
    """One stored batch (``batch_id`` empty: the single replays)."""

    batch_id: str
    started: datetime
    target: str
    prompt_version: str
    n: int
    verdicts: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0


def batches(conn: sqlite3.Connection, limit: int = 50) -> list[BatchSummary]:
    """Stored batches, newest first, with their verdict counts."""
    rows = conn.execute(
        "SELECT batch_id, MIN(ts), MIN(target), MIN(prompt_version), COUNT(*), SUM(cost_usd) "
        "FROM replays GROUP BY batch_id ORDER BY MIN(ts) DESC, MAX(rowid) DESC LIMIT ?",
        (limit,),
    ).fetchall()
    out = []
    for batch_id, ts, target, version, n, usd in rows:
        counts = dict(
            conn.execute(
                "SELECT verdict, COUNT(*) FROM replays WHERE batch_id = ? GROUP BY verdict",
                (batch_id,),
            ).fetchall()
        )
        out.append(
            BatchSummary(
                str(batch_id),
                from_ms(int(ts)),
                str(target or ""),
                str(version or ""),
                int(n),
                {v: int(counts[v]) for v in VERDICTS if v in counts},
                float(usd or 0.0),
            )
        )
    return out


@dataclass(frozen=True)
class Comparison:
    """Replay A against replay B on the same requests (e.g. two prompt versions).

    ``rows`` pairs the results by request id; ``changed`` is the fraction of
    paired requests whose verdict differs between A and B (None if none pair).
    """

    batch_a: str
    batch_b: str
    rows: tuple[tuple[str, ReplayResult, ReplayResult], ...]
    changed: float | None
    a_counts: dict[str, int]
    b_counts: dict[str, int]


def compare(conn: sqlite3.Connection, batch_a: str, batch_b: str) -> Comparison:
    """Pair two batches' results by request id (the first result of each request)."""
    first_a: dict[str, ReplayResult] = {}
    for r in for_batch(conn, batch_a):
        first_a.setdefault(r.request_id, r)
    first_b: dict[str, ReplayResult] = {}
    for r in for_batch(conn, batch_b):
        first_b.setdefault(r.request_id, r)
    rows = tuple((rid, a, first_b[rid]) for rid, a in first_a.items() if rid in first_b)
    changed = sum(a.verdict != b.verdict for _, a, b in rows) / len(rows) if rows else None
    return Comparison(
        batch_a,
        batch_b,
        rows,
        changed,
        dict(Counter(a.verdict for _, a, _ in rows)),
        dict(Counter(b.verdict for _, _, b in rows)),
    )
