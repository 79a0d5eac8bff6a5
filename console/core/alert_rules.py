"""Alert rules from the profile: behaviour SLOs and spend budgets, judged as
multi-window, multi-burn-rate alerts (the SRE workbook, chapter 5).

Profile settings::

    slos:
      /support/chat: {refusal_rate: 0.05, p95_latency_ms: 6500}   # a route
      prompt support-answer: {refusal_rate: 0.01}                  # each version of a prompt
    budgets: {acme: 60.0}                                          # dollars per tenant per day
    alerts:                      # all optional; these are the defaults
      page:   [[1h, 5m, 14.4], [6h, 30m, 6]]   # long window, short window, burn factor
      ticket: [[3d, 6h, 1]]
      for: 2m                    # pending this long before firing
      keep_firing_for: 2m        # a dip shorter than this does not resolve it
      min_requests: 20           # fewer in the long window judges nothing
      absent_after: 10m          # no data this long is absence (console/alerts/absence.py)
      absent_lookback: 24h       # ...for what had data this far back

A rate objective ("refusal rate below 1%") allows that share of bad requests;
the burn rate over a window is the bad share observed divided by the allowed
share, so 1.0 spends the budget exactly over the SLO period and 14.4 spends
2% of a 30-day budget in one hour. An alert needs *both* windows of a pair
above the factor: the long one proves it is not a blip, the short one that it
is still happening (so it resolves minutes after the cause is gone).

A prompt SLO is judged on every version of the prompt separately: a canary
that burns pages within minutes of its first requests, where the whole
route's figure, diluted by the other versions, would take most of an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from console.core.errors import ConfigError
from console.core.spans import parse_span

# objective -> (signal the burn is computed from, how a value turns into "bad")
# "rate": the signal is the bad share; "pass": the signal is the good share;
# "slow": the share of requests slower than the target (ms), from histograms.
OBJECTIVE_SIGNALS: dict[str, tuple[str, str]] = {
    "refusal_rate": ("refusal_rate", "rate"),
    "error_rate": ("error_rate", "rate"),
    "block_rate": ("block_rate", "rate"),
    "eval_pass_ratio": ("eval_pass_ratio", "pass"),
    "p95_latency_ms": ("slow_share", "slow"),
}
LATENCY_ALLOWED_SLOW = 0.05  # "p95 below T": at most 5% of requests slower than T

Severity = Literal["page", "ticket"]
ALERT_KEYS = (
    "page",
    "ticket",
    "for",
    "keep_firing_for",
    "min_requests",
    "absent_after",
    "absent_lookback",
)


@dataclass(frozen=True)
class WindowPair:
    long: timedelta
    short: timedelta
    factor: float
    severity: Severity

    @property
    def name(self) -> str:
        return f"{_fmt(self.long)}/{_fmt(self.short)}>{self.factor:g}x"


@dataclass(frozen=True)
class AlertSettings:
    pairs: tuple[WindowPair, ...]
    pending_for: timedelta = timedelta(minutes=2)
    keep_firing_for: timedelta = timedelta(minutes=2)
    min_requests: int = 20
    absent_after: timedelta = timedelta(minutes=10)
    absent_lookback: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Rule:
    """One objective on one scope.

    ``scope`` is ``route`` (``name`` is the path), ``prompt`` (``name`` is the
    prompt id, judged per version) or ``tenant`` (a spend budget; ``name`` is
    the tenant as the profile writes it). ``allowed`` is the bad share the
    objective allows (a budget's dollars per hour for a tenant).
    """

    kind: Literal["slo", "budget"]
    scope: Literal["route", "prompt", "tenant"]
    name: str
    objective: str
    target: float
    signal: str
    mode: str  # rate, pass, slow, spend
    allowed: float

    @property
    def group_by(self) -> str:
        return {"route": "route", "prompt": "prompt_version", "tenant": "tenant"}[self.scope]


DEFAULT_PAIRS: tuple[WindowPair, ...] = (
    WindowPair(timedelta(hours=1), timedelta(minutes=5), 14.4, "page"),
    WindowPair(timedelta(hours=6), timedelta(minutes=30), 6.0, "page"),
    WindowPair(timedelta(days=3), timedelta(hours=6), 1.0, "ticket"),
)


def _fmt(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def _span(where: str, value: Any) -> timedelta:
    try:
        return parse_span(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _pairs(spec: dict[str, Any]) -> tuple[WindowPair, ...]:
    out: list[WindowPair] = []
    for severity in ("page", "ticket"):
        if severity not in spec:
            out.extend(p for p in DEFAULT_PAIRS if p.severity == severity)
            continue
        rows = spec[severity]
        if not isinstance(rows, list):
            raise ConfigError(f"alerts.{severity}: expected a list of [long, short, factor]")
        for i, row in enumerate(rows):
            where = f"alerts.{severity}[{i}]"
            if not isinstance(row, list | tuple) or len(row) != 3:
                raise ConfigError(f"{where}: expected [long window, short window, burn factor]")
            long, short = _span(where, row[0]), _span(where, row[1])
            try:
                factor = float(row[2])
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: burn factor must be a number") from None
            if short >= long:
                raise ConfigError(f"{where}: the short window must be shorter than the long one")
            if factor <= 0:
                raise ConfigError(f"{where}: burn factor must be positive")
            out.append(WindowPair(long, short, factor, severity))
    return tuple(out)


def alert_settings(settings: dict[str, Any]) -> AlertSettings:
    """The ``alerts:`` section with defaults. Raises ConfigError naming the key."""
    spec = settings.get("alerts") or {}
    if not isinstance(spec, dict):
        raise ConfigError("alerts: must be a mapping")
    kw: dict[str, Any] = {"pairs": _pairs(spec)}
    for key, field in (
        ("for", "pending_for"),
        ("keep_firing_for", "keep_firing_for"),
        ("absent_after", "absent_after"),
        ("absent_lookback", "absent_lookback"),
    ):
        if key in spec:
            kw[field] = _span(f"alerts.{key}", spec[key])
    after = kw.get("absent_after", AlertSettings.absent_after)
    if kw.get("absent_lookback", AlertSettings.absent_lookback) <= after:
        raise ConfigError("alerts.absent_lookback: must be longer than absent_after")
    if "min_requests" in spec:
        try:
            kw["min_requests"] = max(1, int(spec["min_requests"]))
        except (TypeError, ValueError):
            raise ConfigError("alerts.min_requests: expected a whole number") from None
    return AlertSettings(**kw)


def _scope(key: str) -> tuple[Literal["route", "prompt"], str]:
    if key.startswith("prompt "):
        name = key.removeprefix("prompt ").strip()
        if not name:
            raise ConfigError(f"slos.{key}: name the prompt (prompt NAME)")
        return "prompt", name
    return "route", key


def rules(settings: dict[str, Any]) -> list[Rule]:
    """Every SLO objective and budget as a rule. Raises ConfigError naming the key."""
    out: list[Rule] = []
    for key, spec in (settings.get("slos") or {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"slos.{key}: expected a mapping of objectives")
        scope, name = _scope(str(key))
        for objective, target in spec.items():
            if objective == "period":
                continue
            if objective not in OBJECTIVE_SIGNALS:
                known = ", ".join(OBJECTIVE_SIGNALS)
                raise ConfigError(f"slos.{key}.{objective}: unknown objective ({known})")
            try:
                value = float(target)
            except (TypeError, ValueError):
                raise ConfigError(f"slos.{key}.{objective}: expected a number") from None
            signal, mode = OBJECTIVE_SIGNALS[objective]
            allowed = {"rate": value, "pass": 1 - value, "slow": LATENCY_ALLOWED_SLOW}[mode]
            if allowed <= 0:
                raise ConfigError(f"slos.{key}.{objective}: objective leaves no error budget")
            out.append(Rule("slo", scope, name, objective, value, signal, mode, allowed))
    for tenant, spec in (settings.get("budgets") or {}).items():
        daily = spec.get("daily") if isinstance(spec, dict) else spec
        try:
            per_day = float(daily)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ConfigError(f"budgets.{tenant}: expected dollars per day") from None
        if per_day > 0:
            out.append(
                Rule(
                    "budget", "tenant", str(tenant), "spend", per_day, "cost", "spend", per_day / 24
                )
            )
    return out
