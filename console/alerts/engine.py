"""The console's own alerts, evaluated on every refresh: every rule of the
profile (``console/alerts/rules.py``) on every scope it covers, through the
metrics source the panels read, so an alert and the chart beside it agree.

Page pairs (windows up to 6 h) are judged on a per-minute grid over the last
``TRACE`` hours, ticket pairs (days) on an hourly grid; judging the whole
trace gives each alert its onset and, once the condition stops, its end. The
series come from the session's incremental cache, so a refresh reads only the
newest minute or two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from connectors.base import MetricsSource
from connectors.errors import ConnectorError
from connectors.records import MetricSeries
from console.alerts import absence, burn
from console.alerts.model import Alert, Severity
from console.core import clock
from console.core.alert_rules import AlertSettings, Rule, WindowPair, alert_settings, rules
from console.core.errors import LlmdeckError
from console.core.series_cache import metrics_source
from console.core.session import Session
from console.core.tenants import display, names, stored

# How far back the grids look for an onset: a page's whole run is within it.
TRACE = {60: timedelta(hours=6), 3600: timedelta(days=3)}
LABELS = {
    "refusal_rate": "refusals",
    "error_rate": "errors",
    "block_rate": "safety blocks",
    "eval_pass_ratio": "eval failures",
    "p95_latency_ms": "slow requests",
    "spend": "spend",
}


@dataclass(frozen=True)
class Board:
    """Every alert now: firing and pending first, then the recently resolved.
    ``unmeasured`` names the rules the backend cannot judge and why."""

    at: datetime
    alerts: tuple[Alert, ...] = ()
    unmeasured: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def active(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.state != "resolved")

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.state == "firing" and not a.silenced(self.at))

    @property
    def worst(self) -> Alert | None:
        return self.firing[0] if self.firing else None

    def pages(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.firing if a.severity == "page")


def _grid_step(pair: WindowPair) -> int:
    return 60 if pair.long <= timedelta(hours=6) else 3600


@dataclass
class _Grid:
    """The counts of one grouping on one grid: per scope key, per step."""

    step: int
    start: float  # unix seconds of step 0
    n: int
    total: dict[str, list[float]] = field(default_factory=dict)
    bad: dict[str, list[float]] = field(default_factory=dict)

    def time(self, i: int) -> datetime:
        return datetime.fromtimestamp(self.start + i * self.step, UTC)


def _values(series: MetricSeries, n: int) -> list[float]:
    vals = [0.0 if math.isnan(v) else v for _, v in series.points[:n]]
    return vals + [0.0] * (n - len(vals))


def _key(series: MetricSeries, group_by: str) -> str:
    return str(series.labels.get(group_by, ""))


def _read_grid(
    metrics: MetricsSource, rule: Rule, step: int, end: datetime, span: timedelta
) -> _Grid:
    """Requests and bad requests (or dollars) per step for every scope of the
    rule's grouping. Raises ValueError when the source lacks the signal."""
    hi = math.ceil(end.timestamp() / step) * step
    n = int(span.total_seconds()) // step
    lo = hi - n * step
    start, stop = datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)
    grid = _Grid(step, lo, n)
    per_step = step / 60  # the requests signal is per minute
    if rule.mode == "spend":
        for s in metrics.series("cost", start, stop, step, rule.group_by):
            grid.bad[_key(s, rule.group_by)] = [v * step / 3600 for v in _values(s, n)]
        return grid
    for s in metrics.series("requests", start, stop, step, rule.group_by):
        grid.total[_key(s, rule.group_by)] = [v * per_step for v in _values(s, n)]
    if rule.mode == "slow":
        slow = getattr(metrics, "slow_share", None)
        if slow is None:
            raise ValueError("the metrics source cannot tell the share of slow requests")
        signal = slow(rule.target, start, stop, step, rule.group_by)
    else:
        signal = metrics.series(rule.signal, start, stop, step, rule.group_by)
    for s in signal:
        k = _key(s, rule.group_by)
        counts = grid.total.get(k, [0.0] * n)
        shares = _values(s, n)
        if rule.mode == "pass":
            shares = [1 - v if c > 0 else 0.0 for v, c in zip(shares, counts, strict=True)]
        grid.bad[k] = [v * c for v, c in zip(shares, counts, strict=True)]
    return grid


def _scopes(rule: Rule, grid: _Grid, tenants: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """(grid key, labels) of every scope the rule covers."""
    keys = grid.bad.keys() if rule.mode == "spend" else grid.total.keys()
    if rule.scope == "route":
        return [(rule.name, {"route": rule.name})] if rule.name in keys else []
    if rule.scope == "prompt":
        prefix = rule.name + "@"
        return [
            (k, {"prompt": rule.name, "version": k.removeprefix(prefix)})
            for k in sorted(keys)
            if k.startswith(prefix)
        ]
    tenant = rule.name if rule.name in keys else stored(tenants, rule.name)
    if tenant not in keys:
        return []
    return [(tenant, {"tenant": display(tenants, tenant)})]


def _holds(
    rule: Rule, grid: _Grid, key: str, pair: WindowPair, cfg: AlertSettings, first: int
) -> tuple[list[bool], dict[str, float]]:
    """Whether both windows of ``pair`` burned above its factor at each step
    from ``first`` on, and the two burns at the last step."""
    long_n = int(pair.long.total_seconds()) // grid.step
    short_n = max(1, int(pair.short.total_seconds()) // grid.step)
    c_bad = burn.cumulative(grid.bad.get(key, [0.0] * grid.n))
    n_long, n_short = _name(pair.long), _name(pair.short)
    holds: list[bool] = []
    last: dict[str, float] = {}
    if rule.mode == "spend":
        per_step = rule.allowed * grid.step / 3600
        for i in range(first, grid.n):
            b_long = burn.spend_burn(c_bad, i, long_n, per_step)
            b_short = burn.spend_burn(c_bad, i, short_n, per_step)
            holds.append(b_long > pair.factor and b_short > pair.factor)
            last = {n_long: b_long, n_short: b_short}
        return holds, last
    c_tot = burn.cumulative(grid.total.get(key, [0.0] * grid.n))
    for i in range(first, grid.n):
        bl = burn.window_burn(c_tot, c_bad, i, long_n, rule.allowed, cfg.min_requests)
        bs = burn.window_burn(c_tot, c_bad, i, short_n, rule.allowed)
        holds.append(bl is not None and bs is not None and bl > pair.factor and bs > pair.factor)
        last = {k: v for k, v in ((n_long, bl), (n_short, bs)) if v is not None}
    return holds, last


def _name(d: timedelta) -> str:
    return WindowPair(d, d, 1, "page").name.split("/")[0]


def _title(rule: Rule, labels: dict[str, str], hottest: float) -> str:
    what = LABELS.get(rule.objective, rule.objective)
    if rule.scope == "tenant":
        return f"{labels['tenant']} spending {hottest:.1f}x its daily budget's pace"
    where = labels.get("route") or ""
    if rule.scope == "prompt":
        version = f"{rule.name} v{labels['version']}"
        where = f"{where} ({version})" if where else version
    return f"{what} burning {hottest:.1f}x the budget on {where}"


def _judge(
    rule: Rule,
    severity: Severity,
    pairs: Sequence[WindowPair],
    grid: _Grid,
    key: str,
    labels: dict[str, str],
    cfg: AlertSettings,
) -> Alert | None:
    trace_n = int(TRACE[grid.step].total_seconds()) // grid.step
    first = max(0, grid.n - trace_n)
    holds = [False] * (grid.n - first)
    burns: dict[str, float] = {}
    held_now = False  # the burns shown are of the first pair that holds now
    for pair in pairs:
        h, last = _holds(rule, grid, key, pair, cfg, first)
        holds = [a or b for a, b in zip(holds, h, strict=True)]
        if not burns or (h and h[-1] and not held_now):
            burns = last
            held_now = bool(h and h[-1])
    # Still happening: the scope had traffic (or spend) in the shortest window.
    # A version rolled back to 0% burns nothing more, so its page resolves once
    # that window is empty, not when the slowest pair's short window (30 min) is.
    shortest = max(1, int(min(p.short for p in pairs).total_seconds()) // grid.step)
    counted = grid.bad if rule.mode == "spend" else grid.total
    c_live = burn.cumulative(counted.get(key, [0.0] * grid.n))
    holds = [
        h and c_live[first + j + 1] - c_live[max(0, first + j + 1 - shortest)] > 0
        for j, h in enumerate(holds)
    ]
    keep = int(cfg.keep_firing_for.total_seconds()) // grid.step
    run = burn.latest_run(holds, keep)
    if run is None:
        return None
    onset = grid.time(first + run.start)
    if run.open:
        held = (run.end - run.start + 1) * grid.step
        state = "firing" if held >= cfg.pending_for.total_seconds() else "pending"
        ended = None
    else:
        state, ended = "resolved", grid.time(first + run.end + 1)
    hottest = max(burns.values(), default=0.0)
    scope = {
        "route": rule.name,
        "prompt": f"{rule.name}@{labels.get('version', '')}",
        "tenant": labels.get("tenant", rule.name),
    }[rule.scope]
    return Alert(
        key=f"{rule.kind}:{scope}:{rule.objective}:{severity}",
        kind=rule.kind,
        severity=severity,
        state=state,  # type: ignore[arg-type]
        title=_title(rule, labels, hottest),
        labels={**labels, "objective": rule.objective, "signal": rule.signal},
        onset=onset,
        ended=ended,
        burn={k: round(v, 3) for k, v in burns.items()},
        observed=None,
        objective=rule.target,
        detail=", ".join(f"{w} {b:.1f}x" for w, b in burns.items()),
    )


def _live_until(rule: Rule, grid: _Grid, key: str, cfg: AlertSettings) -> datetime:
    """The end of the shortest window after the scope's last minute with traffic
    (or spend): past it, nothing is being burnt."""
    counted = grid.bad if rule.mode == "spend" else grid.total
    values = counted.get(key, [])
    last = max((i for i, v in enumerate(values) if v > 0), default=-1)
    shortest = min(p.short for p in cfg.pairs)
    return grid.time(last + 1) + shortest


def _routes_of_prompts(session: Session) -> dict[str, str]:
    """prompt id -> the route its newest request came on (labels a prompt
    alert with the route an on-call engineer knows it by)."""
    log = session.request_log()
    if log is None:
        return {}
    out: dict[str, str] = {}
    try:
        from connectors.base import RequestFilter

        for rule in rules(session.profile.settings):
            if rule.scope == "prompt" and rule.name not in out:
                page = log.page(RequestFilter(prompt_id=rule.name), limit=1)
                if page.records:
                    out[rule.name] = page.records[0].route
    except (ConnectorError, LlmdeckError, AttributeError, TypeError):
        pass
    return out


def evaluate(session: Session, at: datetime | None = None) -> Board:
    """Every alert of the profile at ``at`` (default: now). A rule the backend
    cannot judge is named in ``unmeasured``; a backend that fails leaves a
    problem line and the rules it could judge. Raises LlmdeckError for a bad
    ``alerts:`` or ``slos:`` section."""
    now = at or clock.now()
    settings = session.profile.settings
    cfg = alert_settings(settings)
    all_rules = rules(settings)
    try:
        metrics = metrics_source(session)
    except LlmdeckError as exc:
        return Board(now, problems=(str(exc),))
    out: list[Alert] = []
    problems: list[str] = []
    try:
        # Needs no rule: a stream that stops is news whatever the profile says.
        out += absence.evaluate(metrics, now, absence.AbsenceSettings.from_settings(settings))
    except ConnectorError as exc:
        problems.append(f"absence: {exc}")
    if not all_rules:
        out.sort(key=Alert.rank)
        return Board(now, tuple(out), (), tuple(problems))
    tenants = names(session)
    prompt_routes = _routes_of_prompts(session)
    unmeasured: list[str] = []
    # When each scope last had traffic, from the finest grid: an alert judged on
    # a coarser one (tickets, hourly) ends once its scope has had none for the
    # shortest window, as a page does, not at the end of the next hour.
    live_until: dict[tuple[str, str], datetime] = {}
    by_step: dict[int, list[WindowPair]] = {}
    for pair in cfg.pairs:
        by_step.setdefault(_grid_step(pair), []).append(pair)
    for rule in all_rules:
        for step, pairs in sorted(by_step.items()):
            span = TRACE[step] + max(p.long for p in pairs)
            try:
                grid = _read_grid(metrics, rule, step, now, span)
            except ValueError as exc:
                what = f"{rule.kind} {rule.scope} {rule.name}: {rule.objective}"
                if f"{what}: not measured" not in " ".join(unmeasured):
                    unmeasured.append(f"{what}: not measured ({exc})")
                break
            except ConnectorError as exc:
                problems.append(f"{rule.name} {rule.objective}: {exc}")
                break
            for key, labels in _scopes(rule, grid, tenants):
                if rule.scope == "prompt" and rule.name in prompt_routes:
                    labels = {**labels, "route": prompt_routes[rule.name]}
                scope_id = (str(rule), key)
                if step == 60:
                    live_until[scope_id] = _live_until(rule, grid, key, cfg)
                severities: tuple[Severity, ...] = ("page", "ticket")
                for severity in severities:
                    chosen = [p for p in pairs if p.severity == severity]
                    alert = (
                        _judge(rule, severity, chosen, grid, key, labels, cfg) if chosen else None
                    )
                    if alert is None:
                        continue
                    if (
                        step != 60
                        and alert.state != "resolved"
                        and live_until.get(scope_id, now) < now
                    ):
                        alert = replace(alert, state="resolved", ended=live_until[scope_id])
                    out.append(alert)
    out = _one_per_scope(out)
    out.sort(key=Alert.rank)
    return Board(now, tuple(out), tuple(unmeasured), tuple(problems))


def _one_per_scope(alerts: list[Alert]) -> list[Alert]:
    """A page and a ticket for the same scope and objective: the ticket adds
    nothing while the page is active."""
    paged = {
        a.key.removesuffix(":page")
        for a in alerts
        if a.severity == "page" and a.state != "resolved"
    }
    return [
        a for a in alerts if not (a.severity == "ticket" and a.key.removesuffix(":ticket") in paged)
    ]
