"""Cost: the price table, cost per successful request, per-tenant daily budgets.

Profile settings::

    prices:  {MODEL: {input_per_1k: 0.00015, output_per_1k: 0.0006}}
    budgets: {TENANT: 60.0}            # dollars per UTC day
             {TENANT: {daily: 60.0, warn: 0.8}}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.base import MetricsSource
from console.core.errors import ConfigError
from console.core.series_math import totals, weighted

WARN_DEFAULT = 0.8


@dataclass(frozen=True)
class ModelCost:
    """One model over the range: requests, priced cost, cost per successful request."""

    model: str
    requests: float
    successful: float
    priced_cost: float | None  # from the profile's price table; None without a price
    logged_cost: float
    cost_per_success: float | None


@dataclass(frozen=True)
class Budget:
    """One tenant's day: spend so far, its budget, burn and projected exhaustion."""

    tenant: str
    daily: float
    spent: float
    burn: float  # spent / daily
    rate_per_hour: float  # spend rate over the last hour
    exhausted_at: datetime | None  # projected, only when it falls before the day ends
    warn: float
    over: bool  # burn >= warn
    name: str = ""  # the profile's display name for ``tenant`` (the stored id)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["exhausted_at"] = self.exhausted_at.isoformat() if self.exhausted_at else None
        return d


def prices(settings: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """model -> (input, output) dollars per 1k tokens. Raises ConfigError naming the key."""
    out = {}
    for model, spec in (settings.get("prices") or {}).items():
        try:
            out[str(model)] = (float(spec["input_per_1k"]), float(spec["output_per_1k"]))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(
                f"prices.{model}: expected {{input_per_1k: N, output_per_1k: N}}"
            ) from None
    return out


def model_costs(
    metrics: MetricsSource, settings: dict[str, Any], start: datetime, end: datetime
) -> list[ModelCost]:
    """Per model over [start, end), most expensive first."""
    table = prices(settings)
    reqs = totals(metrics, "requests", start, end, "model")
    t_in = totals(metrics, "tokens_in", start, end, "model")
    t_out = totals(metrics, "tokens_out", start, end, "model")
    logged = totals(metrics, "cost", start, end, "model")
    errors = weighted(metrics, "error_rate", start, end, "model")
    out = []
    for model, n in reqs.items():
        price = table.get(model)
        priced = (
            None
            if price is None
            else t_in.get(model, 0) / 1000 * price[0] + t_out.get(model, 0) / 1000 * price[1]
        )
        err = errors.get(model, (None, 0.0))[0] or 0.0
        ok = n * (1 - err)
        cost = priced if priced is not None else logged.get(model, 0.0)
        out.append(
            ModelCost(model, n, ok, priced, logged.get(model, 0.0), cost / ok if ok else None)
        )
    return sorted(out, key=lambda m: -(m.priced_cost or m.logged_cost))


def budgets(metrics: MetricsSource, settings: dict[str, Any], now: datetime) -> list[Budget]:
    """Every budgeted tenant's day so far, highest burn first. Raises ConfigError."""
    raw = settings.get("budgets") or {}
    if not raw:
        return []
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    spent = totals(metrics, "cost", day, now, "tenant") if now > day else {}
    recent = totals(metrics, "cost", now - timedelta(hours=1), now, "tenant")
    from console.core.tenants import display, stored

    tenants = settings.get("tenants") or {}
    out = []
    for named, spec in raw.items():
        # A key names a tenant as the metrics label it, or by its display name / raw id.
        tenant = (
            str(named)
            if str(named) in spent or str(named) in recent
            else stored(tenants, str(named))
        )
        if isinstance(spec, dict):
            daily, warn = spec.get("daily"), spec.get("warn", WARN_DEFAULT)
        else:
            daily, warn = spec, WARN_DEFAULT
        try:
            daily, warn = float(daily), float(warn)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ConfigError(f"budgets.{named}: expected dollars per day") from None
        s = spent.get(str(tenant), 0.0)
        rate = recent.get(str(tenant), 0.0)
        at = None
        if s >= daily:
            at = now
        elif rate > 0:
            eta = now + timedelta(hours=(daily - s) / rate)
            at = eta if eta < day + timedelta(days=1) else None
        burn = s / daily if daily else 0.0
        out.append(
            Budget(tenant, daily, s, burn, rate, at, warn, burn >= warn, display(tenants, tenant))
        )
    return sorted(out, key=lambda b: -b.burn)
