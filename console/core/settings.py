"""Shape checks for a profile's settings sections, at load time.

The sections are read by the features that use them (budgets, SLOs, drift,
replay); checking their shape here means a typo is reported with the file,
line and key when the config is loaded, not later on a screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.support.yaml_lines import KeyPath, Located
from console.core.errors import ConfigError

SETTINGS = ("panels", "prices", "budgets", "slos", "drift", "replay", "tenants", "alerts")

# The behaviour objectives an ``slos:`` entry may name: key -> (signal, description).
OBJECTIVES = {
    "refusal_rate": ("refusal_rate", "refusal rate below"),
    "error_rate": ("error_rate", "error rate below"),
    "block_rate": ("block_rate", "safety block rate below"),
    "eval_pass_ratio": ("eval_pass_ratio", "eval pass ratio at least"),
    "p95_latency_ms": ("latency_p95", "p95 latency below (ms)"),
}


@dataclass(frozen=True)
class Thresholds:
    """When a delta is a warning or an alert (profile ``drift:`` section).

    ``min_count``: fewer requests than this in either window gives status
    ``low data`` instead of a verdict. ``current``/``baseline`` name the
    windows (``1h`` current, the ``24h`` before it as baseline by default).
    """

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    z_warn: float = 3.0
    z_alert: float = 5.0
    min_count: int = 50
    current: str = "1h"
    baseline: str = "24h"

    @classmethod
    def from_settings(cls, raw: Mapping[str, object] | None) -> Thresholds:
        """Thresholds from the profile's ``drift:`` mapping. Raises ValueError naming the key."""
        raw = raw or {}
        known = cls.__dataclass_fields__
        kwargs: dict[str, object] = {}
        for key, value in raw.items():
            if key not in known:
                raise ValueError(f"drift.{key}: unknown key (known: {', '.join(known)})")
            target = type(getattr(cls(), key))
            try:
                kwargs[key] = target(value)
            except (TypeError, ValueError):
                raise ValueError(f"drift.{key}: expected a {target.__name__}") from None
        return cls(**kwargs)  # type: ignore[arg-type]

    def status_psi(self, value: float) -> str:
        return "alert" if value >= self.psi_alert else "warn" if value >= self.psi_warn else "ok"

    def status_z(self, z: float) -> str:
        a = abs(z)
        return "alert" if a >= self.z_alert else "warn" if a >= self.z_warn else "ok"

    def severity(self, test: str, value: float) -> float:
        """How far past its alert threshold a statistic is (1.0 = at the threshold)."""
        return abs(value) / (self.psi_alert if test == "psi" else self.z_alert)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _err(doc: Located, path: KeyPath, message: str) -> ConfigError:
    return ConfigError(str(doc.error(path, message)))


def _check_alerts(doc: Located, base: KeyPath, spec: dict[str, Any]) -> None:
    """The ``alerts:`` section, read as the engine reads it; an error names the
    file, the line of the offending key and the key."""
    from console.core.alert_rules import ALERT_KEYS, alert_settings

    for key in spec:
        if key not in ALERT_KEYS:
            raise _err(doc, (*base, "alerts", key), f"unknown key (known: {', '.join(ALERT_KEYS)})")
    try:
        alert_settings({"alerts": spec})
    except ConfigError as exc:
        message = str(exc).removeprefix("alerts.")
        key, _, why = message.partition(": ")
        path: KeyPath = (*base, "alerts", key.split("[")[0])
        raise _err(doc, path, f"{key}: {why}" if "[" in key else why) from None


def check(doc: Located, base: KeyPath, spec: dict[str, Any]) -> dict[str, Any]:
    """The profile's settings sections, checked. Raises ConfigError (file:line: key)."""
    out = {k: spec[k] for k in SETTINGS if k in spec}
    for key, value in out.items():
        if not isinstance(value, dict):
            raise _err(doc, (*base, key), "must be a mapping")
    for model, price in out.get("prices", {}).items():
        path = (*base, "prices", model)
        if not isinstance(price, dict):
            raise _err(doc, path, "must be {input_per_1k: N, output_per_1k: N}")
        for k, v in price.items():
            if k not in ("input_per_1k", "output_per_1k") or not _number(v):
                raise _err(doc, (*path, k), "expected input_per_1k or output_per_1k: a number")
    for tenant, budget in out.get("budgets", {}).items():
        if not _number(budget):
            raise _err(doc, (*base, "budgets", tenant), "expected dollars per day, a number")
    if "alerts" in out:
        _check_alerts(doc, base, out["alerts"])
    for tenant, name in out.get("tenants", {}).items():
        if not isinstance(name, str) or not name.strip():
            raise _err(doc, (*base, "tenants", tenant), "expected a display name")
    for route, objectives in out.get("slos", {}).items():
        path = (*base, "slos", route)
        if not isinstance(objectives, dict):
            raise _err(doc, path, "must map objectives to targets")
        for k, v in objectives.items():
            if k == "period":
                continue
            if k not in OBJECTIVES:
                raise _err(doc, (*path, k), f"unknown objective (known: {', '.join(OBJECTIVES)})")
            if not _number(v):
                raise _err(doc, (*path, k), "expected a number")
    known = Thresholds.__dataclass_fields__
    for k, v in out.get("drift", {}).items():
        if k not in known:
            raise _err(doc, (*base, "drift", k), f"unknown key (known: {', '.join(known)})")
        if not _number(v):
            raise _err(doc, (*base, "drift", k), "expected a number")
    for k, v in out.get("replay", {}).items():
        if k not in ("per_replay", "per_batch", "similar_threshold"):
            raise _err(
                doc,
                (*base, "replay", k),
                "unknown key (known: per_replay, per_batch, similar_threshold)",
            )
        if not _number(v):
            raise _err(doc, (*base, "replay", k), "expected a number >= 0")
    return out
