"""Shape checks for a profile's settings sections, at load time.

The sections are read by the features that use them (budgets, SLOs, drift,
replay); checking their shape here means a typo is reported with the file,
line and key when the config is loaded, not later on a screen.
"""

from __future__ import annotations

import re
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


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window burn-rate condition (SRE workbook, chapter 5): the
    budget burns more than ``factor`` times too fast over both the ``long``
    and the ``short`` window (PromQL durations such as ``1h``, ``5m``)."""

    long: str
    short: str
    factor: float


SEVERITIES = ("page", "ticket")
# The workbook's defaults: page on 2% of a 30-day budget in 1 h or 5% in 6 h,
# ticket on 10% in 3 days; the short window makes the alert stop soon after
# the burn does.
DEFAULT_WINDOWS: dict[str, tuple[BurnWindow, ...]] = {
    "page": (BurnWindow("1h", "5m", 14.4), BurnWindow("6h", "30m", 6.0)),
    "ticket": (BurnWindow("3d", "6h", 1.0),),
}
_DURATION = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class WindowError(ValueError):
    """A malformed ``alerts:`` entry; ``path`` is the key path below ``alerts``."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path, self.message = path, message
        super().__init__(f"alerts.{'.'.join(str(p) for p in path)}: {message}")


def duration_s(text: str) -> int | None:
    """Seconds of a one-unit PromQL duration (``5m``, ``6h``, ``3d``), None if it is not one."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    return int(match.group(1)) * _UNIT_S[match.group(2)] if match else None


def alert_windows(raw: Any) -> dict[str, tuple[BurnWindow, ...]]:
    """The profile's ``alerts:`` section: ``severity: [[long, short, factor], ...]``.

    A severity the section leaves out keeps its default (``DEFAULT_WINDOWS``);
    an empty list turns it off. Raises WindowError naming the entry.
    """
    if raw is None:
        return dict(DEFAULT_WINDOWS)
    if not isinstance(raw, Mapping):
        raise WindowError((), "must map page/ticket to [[long, short, factor], ...]")
    out = dict(DEFAULT_WINDOWS)
    for severity, entries in raw.items():
        if severity not in SEVERITIES:
            known = ", ".join(SEVERITIES)
            raise WindowError((str(severity),), f"unknown severity (known: {known})")
        if not isinstance(entries, list):
            raise WindowError((severity,), "expected a list of [long, short, factor]")
        out[severity] = tuple(_window(severity, i, entry) for i, entry in enumerate(entries))
    return out


def _window(severity: str, i: int, entry: Any) -> BurnWindow:
    if not isinstance(entry, list) or len(entry) != 3:
        raise WindowError((severity, i), "expected [long window, short window, burn factor]")
    long, short, factor = entry
    seconds = []
    for j, window in ((0, long), (1, short)):
        s = duration_s(window)
        if s is None:
            raise WindowError(
                (severity, i, j), f"expected a duration such as 5m, 1h or 3d, not {window!r}"
            )
        seconds.append(s)
    if seconds[0] <= seconds[1]:
        raise WindowError((severity, i, 0), f"long window {long} is not longer than {short}")
    if not _number(factor) or factor <= 0:
        raise WindowError((severity, i, 2), f"expected a burn factor > 0, not {factor!r}")
    return BurnWindow(long, short, float(factor))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _err(doc: Located, path: KeyPath, message: str) -> ConfigError:
    return ConfigError(str(doc.error(path, message)))


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
    try:
        alert_windows(out.get("alerts"))
    except WindowError as exc:
        raise _err(doc, (*base, "alerts", *exc.path), exc.message) from None
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
