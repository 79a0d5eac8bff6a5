"""Budgets and SLO burn rates on a synthetic metrics source with known rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import MetricsSource
from connectors.records import Kpis, MetricSeries
from console.core.errors import ConfigError
from console.overview import budgets, slo

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


class Flat(MetricsSource):
    """Constant per-minute figures per group: ``values[signal][group]``."""

    kind = "flat"

    def __init__(self, values: dict[str, dict[str, float]], recent: dict[str, dict[str, float]]):
        self.values, self.recent = values, recent

    def kpis(self, start: datetime, end: datetime) -> Kpis:
        raise NotImplementedError

    def series(
        self, signal: str, start: datetime, end: datetime, step_s: int, group_by: str = "none"
    ) -> list[MetricSeries]:
        if signal not in self.values:
            raise ValueError(f"no {signal}")
        # the last hour may differ from the rest ("recent")
        out = []
        for group, value in self.values[signal].items():
            pts = []
            t = start.timestamp()
            while t < end.timestamp():
                recent = t >= (NOW - timedelta(hours=1)).timestamp()
                v = self.recent.get(signal, {}).get(group, value) if recent else value
                pts.append((t, v))
                t += step_s
            out.append(MetricSeries(signal, {group_by: group}, tuple(pts)))
        return out


def test_budget_burn_and_projected_exhaustion() -> None:
    # $5/h all day (10 h -> $50 of a $60 budget), $10/h in the last hour: $10 left
    # at $10/h -> out at 11:00.
    m = Flat({"cost": {"acme": 5.0, "globex": 1.0}}, {"cost": {"acme": 10.0}})
    settings = {"budgets": {"acme": {"daily": 60, "warn": 0.8}, "globex": 100}}
    rows = {b.tenant: b for b in budgets.budgets(m, settings, NOW)}
    acme = rows["acme"]
    assert acme.spent == pytest.approx(45 + 10)
    assert acme.burn == pytest.approx(55 / 60) and acme.over
    assert acme.exhausted_at == NOW + timedelta(hours=0.5)
    globex = rows["globex"]
    assert globex.spent == pytest.approx(10) and not globex.over
    assert globex.exhausted_at is None  # $90 left at $1/h: not today
    with pytest.raises(ConfigError, match=r"budgets\.acme: expected dollars per day"):
        budgets.budgets(m, {"budgets": {"acme": "lots"}}, NOW)


def test_slo_budget_and_multiwindow_burn() -> None:
    # refusal 1% all day, 8% in the last hour; objective 2%.
    m = Flat(
        {"requests": {"/chat": 10.0}, "refusal_rate": {"/chat": 0.01}},
        {"refusal_rate": {"/chat": 0.08}},
    )
    (s,) = slo.evaluate(m, {"slos": {"/chat": {"refusal_rate": 0.02, "period": "24h"}}}, NOW)
    assert s.burn_1h == pytest.approx(4.0)
    assert s.burn_6h == pytest.approx((5 * 0.01 + 0.08) / 6 / 0.02)
    observed = (23 * 0.01 + 0.08) / 24
    assert s.observed == pytest.approx(observed)
    assert s.budget_left == pytest.approx(1 - observed / 0.02)
    assert s.status == "burning"


def test_slo_not_measured_and_bad_config() -> None:
    m = Flat({"requests": {"/chat": 10.0}}, {})
    (s,) = slo.evaluate(m, {"slos": {"/chat": {"eval_pass_ratio": 0.9}}}, NOW)
    assert s.status == "not measured" and "eval_pass_ratio" in s.detail
    with pytest.raises(ConfigError, match=r"slos./chat.latency: unknown objective"):
        slo.evaluate(m, {"slos": {"/chat": {"latency": 1}}}, NOW)
