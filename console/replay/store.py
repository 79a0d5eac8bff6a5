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
from console.replay.fidelity import IDENTICAL, VERDICTS, judge_one

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


def _distinct(concat: object) -> str:
    """``GROUP_CONCAT(DISTINCT ...)`` as ``13/14`` in version order (never MIN():
    a batch replayed as logged mixes versions, and "9" > "13" as text)."""
    values = {v for v in str(concat or "").split(",") if v}
    return "/".join(v for v, _ in sorted(((v, 0) for v in values), key=_version_key))


@dataclass(frozen=True)
class BatchSummary:
    """One stored batch (``batch_id`` empty: the single replays). ``target`` and
    ``prompt_version`` list every value the batch's replays used (``13/14``)."""

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
        "SELECT batch_id, MIN(ts), GROUP_CONCAT(DISTINCT target), "
        "GROUP_CONCAT(DISTINCT prompt_version), COUNT(*), SUM(cost_usd) "
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
                _distinct(target),
                _distinct(version),
                int(n),
                {v: int(counts[v]) for v in VERDICTS if v in counts},
                float(usd or 0.0),
            )
        )
    return out


def arm_label(results: list[ReplayResult]) -> str:
    """What an arm really ran, from its stored results: target, model and prompt
    version(s), e.g. ``local · smollm2-135m · v13`` or ``v13/v14 as logged``.

    Read from every result, not the first one nor the batch's MIN(): a batch
    replayed as logged mixes versions, and "9" > "13" as text.
    """
    if not results:
        return "no replays"
    sent = [r for r in results if r.request]
    unsent = len(results) - len(sent)
    tail = f" · {unsent} not sent" if unsent and sent else ""
    results = sent or results

    def one(values: list[str], prefix: str = "") -> str:
        counts = Counter(v for v in values if v)
        if not counts:
            return "?"
        return "/".join(prefix + v for v, _ in sorted(counts.items(), key=_version_key))

    targets = one([r.target for r in results])
    models = one([str((r.request or {}).get("model") or "") for r in results])
    versions = one([r.prompt_version for r in results], "v")
    rerendered = {bool((r.request or {}).get("rerendered")) for r in results if r.request}
    how = " as logged" if rerendered == {False} else ""
    return f"{targets} · {models} · {versions}{how}{tail}"


def _version_key(item: tuple[str, int]) -> tuple[int, int | str]:
    value = item[0].lstrip("v")
    return (0, int(value)) if value.isdigit() else (1, value)


@dataclass(frozen=True)
class Comparison:
    """Replay A against replay B on the same requests (e.g. two prompt versions).

    ``rows`` pairs the results by request id; ``ab`` is, per row, how B's output
    compares with A's (identical, similar, different; ``no output`` when either
    has none). ``changed`` is the fraction of paired requests whose A and B
    outputs are not identical (None if none pair). ``a_label``/``b_label`` say
    what each arm ran (``arm_label``).
    """

    batch_a: str
    batch_b: str
    rows: tuple[tuple[str, ReplayResult, ReplayResult], ...]
    changed: float | None
    a_counts: dict[str, int]
    b_counts: dict[str, int]
    ab: tuple[str, ...] = ()
    a_label: str = ""
    b_label: str = ""


NO_OUTPUT = "no output"


def ab_verdict(a: ReplayResult, b: ReplayResult) -> str:
    """B's output judged against A's (not each against the logged output)."""
    if a.output is None or b.output is None:
        return NO_OUTPUT
    return judge_one(a.output, b.output)[0]


def compare(conn: sqlite3.Connection, batch_a: str, batch_b: str) -> Comparison:
    """Pair two batches' results by request id (the first result of each request)."""
    all_a, all_b = for_batch(conn, batch_a), for_batch(conn, batch_b)
    first_a: dict[str, ReplayResult] = {}
    for r in all_a:
        first_a.setdefault(r.request_id, r)
    first_b: dict[str, ReplayResult] = {}
    for r in all_b:
        first_b.setdefault(r.request_id, r)
    rows = tuple((rid, a, first_b[rid]) for rid, a in first_a.items() if rid in first_b)
    ab = tuple(ab_verdict(a, b) for _, a, b in rows)
    changed = sum(v != IDENTICAL for v in ab) / len(rows) if rows else None
    return Comparison(
        batch_a,
        batch_b,
        rows,
        changed,
        dict(Counter(a.verdict for _, a, _ in rows)),
        dict(Counter(b.verdict for _, _, b in rows)),
        ab,
        arm_label([a for _, a, _ in rows] or all_a),
        arm_label([b for _, _, b in rows] or all_b),
    )
