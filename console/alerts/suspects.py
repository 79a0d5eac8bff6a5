"""What changed? The suspects of an alert, ranked by how much of its shift the
traffic each change touched explains.

For a firing alert on a route (or a tenant), every change in
[onset - lead, onset + after] is a candidate (``suspect_changes``): flag flips
and weight changes, alias moves, and prompt versions, models, model digests,
system fingerprints, safety policy versions and retrieval index snapshots
entering the route's traffic. Each is judged on the route's requests since it
happened (``suspect_traffic``): the alert's signal on the traffic it touched
against the traffic it did not touch over the same span (a two-proportion
z-test for rates, Welch's t for means); a change that touched all of the
route's traffic is compared with the route's traffic before it.

**Explained share** = touched share of traffic x (touched rate - untouched
rate) / (route rate since the change - route baseline rate), clipped to
[0, 1], where the baseline is the same signal over the 24 hours before the
window. A change that touched none of the affected traffic, or traffic that
behaves like the rest, explains about 0 whatever its timing.

Changes that touched exactly the same requests at about the same time (a
flag's weight change, the alias move and the prompt version entering traffic
of one rollout) are one suspect: the one with the most direct undo is its
face, the others are listed in ``related``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from connectors.errors import LlmdeckError
from connectors.records import Flag, RequestRecord
from connectors.workspace.store import ts_ms
from console.actions.changes import Change
from console.alerts.model import Alert
from console.alerts.suspect_changes import (
    DIM,
    KINDS,
    Candidate,
    Context,
    fresh_values,
    from_flag_events,
    from_history,
    from_traffic,
)
from console.alerts.suspect_traffic import (
    DIMS,
    MINUTE_MS,
    ROLLUP_DIMS,
    Agg,
    Cell,
    LogTraffic,
    Scope,
    Signal,
    WorkspaceTraffic,
    total,
)
from console.core import clock
from console.core.errors import WorkspaceError
from console.core.session import Session
from console.drift.stats import two_proportion_z, welch_t

BASELINE = timedelta(hours=24)  # the route's figure before the window
MERGE_WITHIN = timedelta(minutes=15)  # one rollout's flag change, alias move, first request
SIGNIFICANT_Z = 1.96


class SuspectError(LlmdeckError):
    """The alert cannot be explained by changes (no route, no per-request signal)."""


@dataclass(frozen=True)
class Suspect:
    """One change ranked against an alert.

    ``touched_rate`` and ``untouched_rate`` are proportions (rates, latency
    over the objective) or means in dollars (cost). ``untouched`` is the
    route's requests the change did not touch over the same span or, when it
    touched all of them (``compared_with == "before"``), the route's requests
    before it. ``z`` is the z statistic (``test == "z"``) or Welch's t
    (``"t"``), positive when the touched traffic is worse; ``p_value`` is
    two-sided, None when not cheap to get right. ``explained`` is in [0, 1].
    ``diff`` is what to diff (``("prompt", name, from, to)`` or
    ``("model", a, b)``), ``rollback`` the change that undoes it through the
    write pipeline, None when nothing llmdeck can do undoes it (the evidence
    says why).
    """

    kind: str
    ts: datetime
    what: str
    who: str
    touched: int
    untouched: int
    touched_rate: float | None
    untouched_rate: float | None
    z: float
    p_value: float | None
    explained: float
    evidence: str
    diff: tuple[str, ...] | None
    rollback: Change | None
    test: Literal["z", "t"] = "z"
    compared_with: Literal["concurrent", "before"] = "concurrent"
    related: tuple[str, ...] = ()

    @property
    def significant(self) -> bool:
        return abs(self.z) >= SIGNIFICANT_Z

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ts": self.ts.isoformat(),
            "what": self.what,
            "who": self.who,
            "touched": self.touched,
            "untouched": self.untouched,
            "touched_rate": self.touched_rate,
            "untouched_rate": self.untouched_rate,
            "test": self.test,
            "z": self.z,
            "p_value": self.p_value,
            "explained": self.explained,
            "compared_with": self.compared_with,
            "evidence": self.evidence,
            "diff": list(self.diff) if self.diff else None,
            "rollback": self.rollback.title() if self.rollback else None,
            "related": list(self.related),
        }


@dataclass(frozen=True)
class Ranking:
    """The suspects of one alert, best first, with what they were judged on."""

    alert: str
    scope: str
    signal: str
    window: tuple[datetime, datetime]  # the traffic read: [onset - lead, now)
    baseline: float | None  # the route's signal over the 24 h before the window
    now: float | None  # ... and over the window
    suspects: tuple[Suspect, ...]
    notes: tuple[str, ...] = field(default=())


def signal_of(alert: Alert) -> Signal:
    """The alert's per-request signal. Raises SuspectError for one it has none of."""
    name = (alert.labels.get("signal") or alert.key.split(":")[-1]).lower()
    objective = alert.labels.get("objective", "").lower()
    both = f"{name} {objective}"
    if "refusal" in both:
        return Signal("refusal", "refusals", False, "refusal", lambda r: float(r.refusal))
    if "error" in both:
        return Signal(
            "error",
            "errors",
            False,
            "status IN ('error', 'timeout')",
            lambda r: float(r.status in ("error", "timeout")),
        )
    if "block" in both:
        return Signal("block", "blocks", False, "status = 'blocked'", _blocked)
    if "latency" in both or "slow" in both:
        threshold = _threshold(alert)
        return Signal(
            "latency",
            f"over {threshold:g} ms",
            False,
            f"latency_ms > {float(threshold)!r}",
            lambda r: float(r.latency_ms > threshold),
            threshold,
        )
    if alert.kind == "budget" or any(w in both for w in ("cost", "spend", "budget")):
        return Signal("cost", "cost per request", True, "COALESCE(cost_usd, 0)", _cost)
    raise SuspectError(
        f"alert {alert.key}: signal {name!r} is not measured per request "
        "(suspects know refusal, error, block, latency and cost)"
    )


def _blocked(r: RequestRecord) -> float:
    return float(r.status == "blocked")


def _cost(r: RequestRecord) -> float:
    return float(r.cost_usd or 0.0)


def _threshold(alert: Alert) -> float:
    for raw in (alert.labels.get("threshold"), alert.objective):
        try:
            if raw is not None and float(raw) > 0:
                return float(raw)
        except (TypeError, ValueError):
            pass
    raise SuspectError(f"alert {alert.key}: a latency alert needs its objective in ms")


def scope_of(session: Session, alert: Alert) -> Scope:
    """The traffic the alert is about: its route, else its tenant (stored hashed)."""
    if alert.route:
        return Scope("route", alert.route, alert.route)
    tenant = alert.labels.get("tenant", "")
    if tenant:
        names = session.profile.settings.get("tenants") or {}
        stored = next((h for h, n in names.items() if n == tenant), tenant)
        return Scope("tenant", stored, f"tenant {tenant}")
    raise SuspectError(f"alert {alert.key}: no route or tenant to look for changes in")


def rank(
    session: Session,
    alert: Alert,
    *,
    lead: timedelta = timedelta(hours=6),
    after: timedelta = timedelta(minutes=30),
) -> list[Suspect]:
    """The suspects of ``alert``, best first (see ``rank_report``)."""
    return list(rank_report(session, alert, lead=lead, after=after).suspects)


def rank_report(
    session: Session,
    alert: Alert,
    *,
    lead: timedelta = timedelta(hours=6),
    after: timedelta = timedelta(minutes=30),
) -> Ranking:
    """Rank the changes in [onset - lead, onset + after] against ``alert``.

    Best first: by explained share (to 0.01), then |z|, then the newer
    change. Raises SuspectError when the alert has no route or tenant or no
    per-request signal, WorkspaceError when the store cannot be read; a flags
    connector that fails is named in the notes and its changes are judged
    without what it knows.
    """
    signal = signal_of(alert)
    scope = scope_of(session, alert)
    now = clock.now()
    onset = alert.onset or now
    end = max(alert.ended or now, onset)
    start = onset - lead
    try:
        return _rank(session, alert, signal, scope, onset, start, end, after)
    except sqlite3.Error as exc:
        raise WorkspaceError(f"suspects of {alert.key}: the store failed: {exc}") from None


def _rank(
    session: Session,
    alert: Alert,
    signal: Signal,
    scope: Scope,
    onset: datetime,
    start: datetime,
    end: datetime,
    after: timedelta,
) -> Ranking:
    traffic, notes = _traffic(session)
    base = traffic.baseline(scope, signal, start - BASELINE, start)
    flags, problem = _flags(session)
    notes += [problem] if problem else []
    ctx = Context(
        scope,
        start,
        onset + after,
        flags,
        session.profile.environment,
        _who(session, start, onset + after),
    )
    candidates = from_history(_history(session, onset + after, notes), ctx)
    candidates += _events(session, ctx, candidates, notes)
    fresh = fresh_values(
        traffic.sample(scope, start, end),
        lambda dim, value: traffic.seen(scope, dim, value, start - BASELINE, start),
        start,
        onset + after,
    )
    cells = traffic.cells(scope, signal, start, end, _extra(candidates, fresh))
    if not base.n:
        # A route younger than the window: its own traffic before the onset.
        base = total(c.agg for c in cells if c.minute < ts_ms(onset))
        notes.append("no traffic in the 24 h before the window: baseline is the window's start")
    candidates += from_traffic(
        cells, ctx, traffic.served(scope, start - BASELINE, start), fresh, start
    )
    suspects = [
        _judge(c, mask, cells, signal, base, scope, start) for c, mask in _merged(candidates, cells)
    ]
    suspects.sort(key=lambda s: (-round(s.explained, 2), -abs(s.z), -s.ts.timestamp()))
    whole = total(c.agg for c in cells)
    return Ranking(
        alert.key,
        scope.shown,
        signal.label,
        (start, end),
        base.rate,
        whole.rate,
        tuple(suspects),
        tuple(notes),
    )


def _extra(candidates: Sequence[Candidate], fresh: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The values of non-rollup dimensions the cells must split out: the new
    ones and those a change of the log matches on (a flag's variants)."""
    out = {dim: set(values) for dim, values in fresh.items()}
    for c in candidates:
        for i, values in c.match or ():
            if DIMS[i] not in ("route", *ROLLUP_DIMS):
                out.setdefault(DIMS[i], set()).update(values)
    return out


# -- reading -----------------------------------------------------------------------


def _traffic(session: Session) -> tuple[WorkspaceTraffic | LogTraffic, list[str]]:
    log = session.request_log()
    if log is None or getattr(log, "kind", "") == "workspace":
        return WorkspaceTraffic(session.store()), []
    t = LogTraffic(log)
    return t, t.notes


def _flags(session: Session) -> tuple[dict[str, Flag], str]:
    try:
        store = session.flags()
        return ({f.key: f for f in store.flags()} if store else {}), ""
    except LlmdeckError as exc:
        return {}, f"flags: {exc} (flag changes judged by their variant names)"


def _history(session: Session, end: datetime, notes: list[str]) -> list[tuple[int, str, str, str]]:
    """The flag and alias snapshots up to ``end``; none (and a note) without a store."""
    try:
        rows = (
            session.store()
            .execute(
                "SELECT ts, kind, key, state FROM history WHERE kind IN ('flag', 'alias') "
                "AND ts <= ? ORDER BY kind, key, ts, id",
                (ts_ms(end),),
            )
            .fetchall()
        )
    except (LlmdeckError, sqlite3.Error) as exc:
        notes.append(f"change log: {exc} (only changes seen in the requests are judged)")
        return []
    return [(int(a), str(b), str(c), str(d)) for a, b, c, d in rows]


def _who(session: Session, start: datetime, end: datetime) -> dict[tuple[str, int], str]:
    """Who made the changes the audit log holds (a flag's snapshot says what, not who)."""
    try:
        rows = (
            session.store()
            .execute(
                "SELECT target, ts, who FROM audit WHERE ts >= ? AND ts <= ? AND outcome = 'done'",
                (ts_ms(start) - 60_000, ts_ms(end) + 60_000),
            )
            .fetchall()
        )
    except (LlmdeckError, sqlite3.Error):
        return {}  # _history has said why
    return {(str(t), int(ts)): str(w) for t, ts, w in rows}


def _events(
    session: Session, ctx: Context, covered: Sequence[Candidate], notes: list[str]
) -> list[Candidate]:
    try:
        store = session.flags()
        events = store.events(since=ctx.start) if store else []
    except LlmdeckError as exc:
        notes.append(f"flag events: {exc}")
        return []
    return from_flag_events(events, covered, ctx)


# -- judging -----------------------------------------------------------------------


def _merged(
    candidates: Sequence[Candidate], cells: Sequence[Cell]
) -> list[tuple[Candidate, list[bool]]]:
    """One candidate per group that touched the same cells within MERGE_WITHIN,
    each with its mask over ``cells`` (which cells it touched)."""
    ordered = sorted(candidates, key=lambda c: (KINDS.index(c.kind), c.ts))
    groups: list[tuple[list[bool], list[Candidate]]] = []
    for c in ordered:
        mask = [c.touches(cell) for cell in cells]
        for key, members in groups:
            if any(mask) and key == mask and abs(members[0].ts - c.ts) <= MERGE_WITHIN:
                members.append(c)
                break
        else:
            groups.append((mask, [c]))
    out = []
    for mask, (face, *rest) in groups:
        who = face.who or next((c.who for c in rest if c.who), "")
        diff = face.diff or next((c.diff for c in rest if c.diff), None)
        out.append((replace(face, who=who, diff=diff, related=tuple(c.what for c in rest)), mask))
    return out


def _judge(
    c: Candidate,
    mask: Sequence[bool],
    cells: Sequence[Cell],
    signal: Signal,
    base: Agg,
    scope: Scope,
    window_start: datetime,
) -> Suspect:
    since = max(ts_ms(c.ts), ts_ms(window_start)) // MINUTE_MS * MINUTE_MS
    span = [x for x in cells if x.minute >= since]
    touched = total(x.agg for x, hit in zip(cells, mask, strict=True) if hit and x.minute >= since)
    rest = total(x.agg for x, hit in zip(cells, mask, strict=True) if not hit and x.minute >= since)
    mode: Literal["concurrent", "before"] = "concurrent"
    if c.match == () or (touched.n and not rest.n):
        mode = "before"
        rest = total(x.agg for x in cells if x.minute < since)
        rest = rest if rest.n else base
    z, p = _statistic(signal, rest, touched)
    route_now = (touched + rest).rate if mode == "concurrent" else touched.rate
    share = touched.n / (touched.n + rest.n) if mode == "concurrent" and touched.n else 1.0
    explained = 0.0
    shift = None if route_now is None or base.rate is None else route_now - base.rate
    if touched.n and rest.n and shift and shift > 0:
        assert touched.rate is not None and rest.rate is not None
        explained = min(1.0, max(0.0, share * (touched.rate - rest.rate) / shift))
    diff = c.diff
    if diff and diff[0] == "prompt" and not diff[2]:
        before = _dominant_version(span, diff[1], diff[3])
        diff = (diff[0], diff[1], before, diff[3]) if before else None
    return Suspect(
        kind=c.kind,
        ts=c.ts,
        what=c.what,
        who=c.who,
        touched=touched.n,
        untouched=rest.n,
        touched_rate=touched.rate,
        untouched_rate=rest.rate,
        z=z,
        p_value=p,
        explained=explained,
        evidence=_evidence(c, signal, scope, touched, rest, z, explained, mode),
        diff=diff,
        rollback=c.rollback,
        test="t" if signal.mean else "z",
        compared_with=mode,
        related=c.related,
    )


def _statistic(signal: Signal, rest: Agg, touched: Agg) -> tuple[float, float | None]:
    if not touched.n or not rest.n:
        return 0.0, 1.0
    if signal.mean:
        vr, vt = rest.var, touched.var
        if vr is None or vt is None:
            return 0.0, None  # the rollups keep no variance
        t = welch_t(rest.rate or 0.0, vr, rest.n, touched.rate or 0.0, vt, touched.n)
        return t.t, t.p_value
    test = two_proportion_z(round(rest.s), rest.n, round(touched.s), touched.n)
    return test.z, test.p_value


def _dominant_version(cells: Sequence[Cell], prompt: str, version: str) -> str:
    counts: dict[str, int] = {}
    for c in cells:
        v = c.dims[DIM["prompt_version"]]
        if c.dims[DIM["prompt_id"]] == prompt and v and v != version:
            counts[v] = counts.get(v, 0) + c.agg.n
    return max(counts, key=lambda k: counts[k]) if counts else ""


def _figure(signal: Signal, value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:.4f}" if signal.mean else f"{value:.1%}"


def _evidence(
    c: Candidate,
    signal: Signal,
    scope: Scope,
    touched: Agg,
    rest: Agg,
    z: float,
    explained: float,
    mode: str,
) -> str:
    head = f"{c.label} {c.ts:%H:%M}"
    if not touched.n:
        line = f"{head}: touched none of {scope.shown}'s traffic"
    else:
        stat = "t" if signal.mean else "z"
        a, b = _figure(signal, touched.rate), _figure(signal, rest.rate)
        if mode == "before":
            line = f"{head}: {signal.label} {a} after vs {b} before"
        else:
            line = f"{head}: {signal.label} {a} on its traffic vs {b}"
        line += f" ({stat}={z:.1f}), explains {explained:.0%}"
    if c.rollback is None and c.no_rollback:
        line += f"; no rollback: {c.no_rollback}"
    return line
