"""The Drift report: per group (prompt version, model, route, tenant), a current
window against a baseline window, signal by signal, sorted by severity.

Rates are compared with a two-proportion z-test, distributions with PSI
(``console.drift.stats``). Figures come from the workspace's request records; pandas
is imported here only, when the report is computed (never on the first frame).

A prompt version is compared with what its prompt served in the baseline
window (all versions), not with itself: a canary released inside the
baseline window would otherwise hide its own drift.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.core import clock
from console.core.session import Session
from console.core.settings import Thresholds
from console.core.spans import parse_span
from console.drift.stats import (
    STATUS_RANK,
    psi,
    psi_categorical,
    two_proportion_z,
)

if TYPE_CHECKING:
    import pandas as pd

GROUPS: dict[str, str] = {
    "prompt_version": "prompt_id || '@' || prompt_version",
    "model": "model_name",
    "route": "route",
    "tenant": "tenant",
}
# (signal, label, column or predicate, test)
RATES = (
    ("refusal_rate", "refusal rate", "refusal"),
    ("error_rate", "error rate", "is_error"),
    ("block_rate", "safety block rate", "is_blocked"),
    ("retrieval_hit_rate", "retrieval hit rate", "hit"),
)
DISTRIBUTIONS = (
    ("output_tokens", "output length (tokens)", "tokens_out", "mean"),
    ("cost_per_request", "cost per request ($)", "cost_usd", "mean"),
    ("latency_p95", "latency p95 (ms)", "latency_ms", "p95"),
    ("similarity", "retrieval similarity", "top_score", "mean"),
)
HIT_SCORE = 0.5  # a retrieval "hits" when its best document scores at least this
# The record carries a safety policy decision (``safety.decision``); a malformed
# safety object (a bad ingested record) counts as none rather than failing the query.
SAFETY_DECIDED = (
    "COALESCE(json_valid(safety) AND json_extract(safety, '$.decision') IS NOT NULL, 0)"
)


@dataclass(frozen=True)
class DriftRow:
    """One group's one signal: both windows, the delta, the statistic and the status."""

    group: str
    signal: str
    label: str
    baseline: float | None
    current: float | None
    delta: float | None
    test: str  # "z" or "psi"
    statistic: float
    status: str
    n_baseline: int
    n_current: int
    severity: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftReport:
    group_by: str
    current: tuple[datetime, datetime]
    baseline: tuple[datetime, datetime]
    rows: tuple[DriftRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_by": self.group_by,
            "current": [t.isoformat() for t in self.current],
            "baseline": [t.isoformat() for t in self.baseline],
            "rows": [r.to_dict() for r in self.rows],
        }


def windows(th: Thresholds, now: datetime | None = None) -> tuple[tuple[datetime, datetime], ...]:
    """(baseline, current) windows ending now. Raises ValueError for a bad span."""
    end = now or clock.now()
    cur_start = end - parse_span(th.current)
    return (cur_start - parse_span(th.baseline), cur_start), (cur_start, end)


def load_frame(session: Session, group_by: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The request columns drift needs over [start, end), one row per request."""
    import pandas as pd

    if group_by not in GROUPS:
        raise ValueError(f"unknown grouping {group_by!r} (choose {', '.join(GROUPS)})")
    sql = (
        f"SELECT {GROUPS[group_by]} AS grp, prompt_id, ts, tokens_out, cost_usd, latency_ms, "
        "refusal, status IN ('error', 'timeout') AS is_error, "
        # A safety block is a blocked record with the policy's decision in it. A
        # kill switch answers "blocked" too, before any policy runs (no decision):
        # counting it raised a false block-rate alert after every trip.
        f"status = 'blocked' AND {SAFETY_DECIDED} AS is_blocked, "
        "finish_reason, system_fingerprint, "
        "json_extract(retrieval, '$.scores[0]') AS top_score "
        "FROM requests WHERE ts >= ? AND ts < ?"
    )
    params = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    frame = pd.read_sql_query(sql, session.store(), params=params)
    frame["hit"] = (frame["top_score"] >= HIT_SCORE).where(frame["top_score"].notna())
    return frame


def compute(session: Session, group_by: str = "prompt_version") -> DriftReport:
    """The drift report for ``group_by``. Raises ValueError, WorkspaceError."""
    th = Thresholds.from_settings(session.profile.settings.get("drift"))
    base_w, cur_w = windows(th, session.view.now())
    frame = load_frame(session, group_by, base_w[0], cur_w[1])
    split = int(cur_w[0].timestamp() * 1000)
    base, cur = frame[frame["ts"] < split], frame[frame["ts"] >= split]
    rows: list[DriftRow] = []
    for group, cur_g in cur.groupby("grp"):
        if group_by == "prompt_version":
            base_g = base[base["prompt_id"] == cur_g["prompt_id"].iloc[0]]
        else:
            base_g = base[base["grp"] == group]
        rows.extend(_rows(str(group), base_g, cur_g, th))
    rows.sort(key=rank_key)
    return DriftReport(group_by, cur_w, base_w, tuple(rows))


# Signals whose rise means requests failing the user (refused, erroring, blocked):
# what an on-call engineer is paged for and what SLOs guard.
FAILURE_SIGNALS = frozenset(signal for signal, _, _ in RATES)


def rank_key(row: DriftRow) -> tuple[int, int, float, str, str]:
    """Worst first: by status, then failure rates before shape drifts, then by the
    statistic normalised by its own alert threshold (``DriftRow.severity``).

    Normalising alone does not make PSI and z comparable: on the demo the v14
    canary's shorter answers move output length and cost by PSI 0.5-1.5 (2-6x the
    alert threshold) while its refusal rate triples at z 8.6-9.1 (1.7-1.8x), so the
    incident ranked 7th of 7 alerts. Within a status, a failure-rate alert comes
    first; within a tier the normalised severity orders the rows.
    """
    tier = 0 if row.signal in FAILURE_SIGNALS else 1
    return (-STATUS_RANK[row.status], tier, -row.severity, row.group, row.signal)


def _rows(group: str, base: pd.DataFrame, cur: pd.DataFrame, th: Thresholds) -> list[DriftRow]:
    out = []
    for signal, label, col in RATES:
        b, c = base[col].dropna(), cur[col].dropna()
        if b.empty and c.empty:
            continue
        xb, nb, xc, nc = int(b.sum()), len(b), int(c.sum()), len(c)
        test = two_proportion_z(xb, nb, xc, nc)
        out.append(
            _row(
                group,
                signal,
                label,
                xb / nb if nb else None,
                xc / nc if nc else None,
                "z",
                test.z,
                nb,
                nc,
                th,
            )
        )
    for signal, label, col, agg in DISTRIBUTIONS:
        b, c = base[col].dropna(), cur[col].dropna()
        if b.empty and c.empty:
            continue
        value = psi(b.tolist(), c.tolist())
        out.append(
            _row(group, signal, label, _agg(b, agg), _agg(c, agg), "psi", value, len(b), len(c), th)
        )
    mix_b = {str(k): int(v) for k, v in base["finish_reason"].value_counts().items()}
    mix_c = {str(k): int(v) for k, v in cur["finish_reason"].value_counts().items()}
    out.append(
        _row(
            group,
            "finish_mix",
            "finish-reason mix",
            _share(mix_b, "stop"),
            _share(mix_c, "stop"),
            "psi",
            psi_categorical(mix_b, mix_c),
            len(base),
            len(cur),
            th,
        )
    )
    new_fp = set(cur["system_fingerprint"]) - set(base["system_fingerprint"]) - {""}
    if new_fp and len(base):
        out.append(
            DriftRow(
                group,
                "fingerprint",
                f"new fingerprint {', '.join(sorted(new_fp))}",
                None,
                None,
                None,
                "new",
                float(len(new_fp)),
                "warn",
                len(base),
                len(cur),
                0.5,
            )
        )
    return out


def _row(
    group: str,
    signal: str,
    label: str,
    b: float | None,
    c: float | None,
    test: str,
    stat: float,
    nb: int,
    nc: int,
    th: Thresholds,
) -> DriftRow:
    if nb < th.min_count or nc < th.min_count:
        status = "low data"
    else:
        status = th.status_psi(stat) if test == "psi" else th.status_z(stat)
    delta = None if b is None or c is None else c - b
    return DriftRow(
        group, signal, label, b, c, delta, test, stat, status, nb, nc, th.severity(test, stat)
    )


def _agg(values: pd.Series, how: str) -> float | None:
    if values.empty:
        return None
    result = float(values.quantile(0.95) if how == "p95" else values.mean())
    return None if math.isnan(result) else result


def _share(counts: dict[Any, int], key: str) -> float | None:
    total = sum(counts.values())
    return counts.get(key, 0) / total if total else None


def signal_series(
    session: Session, group_by: str, group: str, signal: str, step_s: int = 900
) -> list[tuple[str, list[tuple[float, float]]]]:
    """The signal per ``step_s`` over both windows, for the chart: (label, points)
    for the group and, for a prompt version, for its prompt's all versions (what
    the version is compared with)."""
    th = Thresholds.from_settings(session.profile.settings.get("drift"))
    base_w, cur_w = windows(th, session.view.now())
    frame = load_frame(session, group_by, base_w[0], cur_w[1])
    frame = frame.assign(step=(frame["ts"] // (step_s * 1000)) * step_s)
    lines = [(group, _per_step(frame[frame["grp"] == group], signal))]
    if group_by == "prompt_version":
        prompt = group.rsplit("@", 1)[0]
        lines.append((f"{prompt}@* (all)", _per_step(frame[frame["prompt_id"] == prompt], signal)))
    return lines


def _per_step(frame: pd.DataFrame, signal: str) -> list[tuple[float, float]]:
    col, agg = _column(signal)
    if signal == "finish_mix":
        grouped = frame.groupby("step")["finish_reason"].apply(
            lambda s: float((s == "stop").mean())
        )
    elif agg == "p95":
        grouped = frame.groupby("step")[col].quantile(0.95)
    else:
        grouped = frame.groupby("step")[col].mean()
    return [(float(t), float(v)) for t, v in grouped.items()]  # type: ignore[arg-type]


def _column(signal: str) -> tuple[str, str]:
    for s, _, col in RATES:
        if s == signal:
            return col, "mean"
    for s, _, col, agg in DISTRIBUTIONS:
        if s == signal:
            return col, agg
    return "tokens_out", "mean"
