"""The MetricsSource contract (connectors/base.py), one suite every metrics source passes.

Each implementation is opened by a harness in ``HARNESSES`` over a window in
which its fixture has traffic: Prometheus is our own backfilled server
(tests/prom_fixture.py), the workspace connector reads the demo workspace
(tests/conftest.py ``demo_dir``). A new metrics source joins the suite with
one harness function and one line in ``HARNESSES``.

The Overview draws every source through the same code, so they must agree on
the shape: the KPI fields and their units, one series per group value for
every signal and grouping, and one point per step of [start, end).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import GROUPINGS, SIGNALS, MetricsSource
from connectors.metrics.prometheus import PrometheusMetrics
from connectors.metrics.workspace import WorkspaceMetrics
from connectors.records import Kpis, MetricSeries
from tests.conftest import FIXED_NOW
from tests.prom_fixture import AT, PromServer, prom  # noqa: F401  (fixture, resolved lazily)

STEP_S = 300
WINDOW = timedelta(hours=1)
RATES = ("error_rate", "block_rate", "refusal_rate")


@dataclass
class MetricsHarness:
    """One metrics source under test and a window in which its fixture has traffic."""

    open: Callable[[], MetricsSource]
    end: datetime  # aligned to STEP_S, so [end - WINDOW, end) is whole steps


def prometheus_harness(request: pytest.FixtureRequest) -> MetricsHarness:
    server: PromServer = request.getfixturevalue("prom")
    end = datetime.fromtimestamp(AT.timestamp() // STEP_S * STEP_S, tz=AT.tzinfo)
    return MetricsHarness(open=lambda: PrometheusMetrics(url=server.url), end=end)


def workspace_harness(request: pytest.FixtureRequest) -> MetricsHarness:
    demo: Path = request.getfixturevalue("demo_dir")
    return MetricsHarness(open=lambda: WorkspaceMetrics(path=demo / "store.db"), end=FIXED_NOW)


# One line per metrics source: the id names the implementation in every case.
HARNESSES: dict[str, Callable[[pytest.FixtureRequest], MetricsHarness]] = {
    "prometheus": prometheus_harness,
    "workspace": workspace_harness,
}


@pytest.fixture(params=list(HARNESSES))
def h(request: pytest.FixtureRequest) -> MetricsHarness:
    return HARNESSES[request.param](request)


@pytest.fixture
def source(h: MetricsHarness) -> Iterator[MetricsSource]:
    s = h.open()
    yield s
    s.close()


def _window(h: MetricsHarness) -> tuple[datetime, datetime]:
    return h.end - WINDOW, h.end


def _steps(start: datetime, end: datetime) -> list[float]:
    lo, hi = start.timestamp(), end.timestamp()
    return [lo + i * STEP_S for i in range(math.ceil((hi - lo) / STEP_S))]


def _mean(series: MetricSeries) -> float:
    values = [v for _, v in series.points if not math.isnan(v)]
    return sum(values) / len(values)


def test_kpis_fields_and_units(h: MetricsHarness, source: MetricsSource) -> None:
    start, end = _window(h)
    k = source.kpis(start, end)
    assert isinstance(k, Kpis)
    assert (k.start, k.end) == (start, end)
    assert isinstance(k.requests, int) and k.requests > 0, "the fixture has traffic here"
    minutes = WINDOW.total_seconds() / 60
    # ``requests`` counts the window; ``requests_per_min`` is the same figure as a rate.
    assert k.requests == pytest.approx(k.requests_per_min * minutes, abs=1)
    for name in ("tokens_in_per_min", "tokens_out_per_min", "cost_per_hour"):
        assert getattr(k, name) > 0, name
    assert k.latency_p95_ms is not None and k.latency_p95_ms > 0
    for name in RATES:
        rate = getattr(k, name)
        assert rate is None or 0.0 <= rate <= 1.0, f"{name}={rate} is not a fraction"
    assert {f.name for f in fields(k)} == {f.name for f in fields(Kpis)}


@pytest.mark.parametrize("signal", SIGNALS)
def test_every_signal_is_one_series_on_the_step_grid(
    h: MetricsHarness, source: MetricsSource, signal: str
) -> None:
    start, end = _window(h)
    (series,) = source.series(signal, start, end, STEP_S)  # ungrouped: exactly one
    assert series.name == signal and dict(series.labels) == {}
    stamps = [t for t, _ in series.points]
    assert stamps == sorted(set(stamps)), "points oldest first, one per time"
    lo = start.timestamp()
    assert all((t - lo) % STEP_S == 0 and lo <= t <= end.timestamp() for t in stamps)
    assert any(not math.isnan(v) for _, v in series.points)


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_a_point_per_step_of_the_window(
    request: pytest.FixtureRequest, h: MetricsHarness, source: MetricsSource, group_by: str
) -> None:
    start, end = _window(h)
    for series in source.series("requests", start, end, STEP_S, group_by=group_by):
        assert [t for t, _ in series.points] == _steps(start, end), series.labels


@pytest.mark.parametrize("group_by", [g for g in GROUPINGS if g != "none"])
def test_every_grouping_is_one_series_per_group_value(
    h: MetricsHarness, source: MetricsSource, group_by: str
) -> None:
    start, end = _window(h)
    grouped = source.series("requests", start, end, STEP_S, group_by=group_by)
    assert grouped, f"no series grouped by {group_by}"
    values = [s.labels.get(group_by) for s in grouped]
    assert all(set(s.labels) == {group_by} for s in grouped), "labels name the grouping only"
    assert len(values) == len(set(values)), "a group value has two series"
    # Requests add up: the groups together are the ungrouped series.
    (total,) = source.series("requests", start, end, STEP_S)
    assert sum(_mean(s) for s in grouped) == pytest.approx(_mean(total), rel=0.02)


def test_series_agree_with_the_kpis(h: MetricsHarness, source: MetricsSource) -> None:
    start, end = _window(h)
    k = source.kpis(start, end)
    pairs = {
        "requests": k.requests_per_min,
        "tokens_in": k.tokens_in_per_min,
        "tokens_out": k.tokens_out_per_min,
        "cost": k.cost_per_hour,
    }
    for signal, kpi in pairs.items():
        (series,) = source.series(signal, start, end, STEP_S)
        # Same unit in both (per minute, dollars per hour): the mean of the steps is the KPI.
        assert _mean(series) == pytest.approx(kpi, rel=0.05), signal


def test_unknown_signal_or_grouping_is_a_value_error(
    h: MetricsHarness, source: MetricsSource
) -> None:
    start, end = _window(h)
    with pytest.raises(ValueError, match="vibes"):
        source.series("vibes", start, end, STEP_S)
    with pytest.raises(ValueError, match="weekday"):
        source.series("requests", start, end, STEP_S, group_by="weekday")


LOOKBACK = timedelta(hours=24)


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_newest_names_every_group_with_traffic(
    h: MetricsHarness, source: MetricsSource, group_by: str
) -> None:
    start, end = _window(h)
    newest = source.newest("requests", end, LOOKBACK, group_by)
    grouped = source.series("requests", start, end, STEP_S, group_by=group_by)
    # Every group with requests in the window last had data in the lookback.
    key = (lambda s: "") if group_by == "none" else (lambda s: s.labels[group_by])
    busy = {key(s) for s in grouped if any(v > 0 for _, v in s.points if not math.isnan(v))}
    assert busy and busy <= set(newest), (busy, set(newest))
    assert all(end - LOOKBACK < t <= end for t in newest.values())
    # The fixture's traffic runs to the end of the window: the stream's newest is
    # within a minute of it.
    if group_by == "none":
        assert end - newest[""] <= timedelta(minutes=1)


def test_newest_before_any_data_is_empty(h: MetricsHarness, source: MetricsSource) -> None:
    long_before = h.end - timedelta(days=30)
    assert source.newest("requests", long_before, timedelta(hours=1), "route") == {}
    assert source.newest("latency_p95", long_before, timedelta(hours=1)) == {}


def test_kpis_of_an_empty_window_are_no_data_not_an_error(
    h: MetricsHarness, source: MetricsSource
) -> None:
    end = h.end - timedelta(days=30)
    k = source.kpis(end - WINDOW, end)
    assert (k.requests, k.requests_per_min, k.tokens_in_per_min, k.cost_per_hour) == (0, 0, 0, 0)
    assert (k.latency_p95_ms, k.error_rate, k.block_rate, k.refusal_rate) == (None,) * 4


class SeriesOnly(MetricsSource):
    """A source with only what a third-party connector must write: ``newest``
    is the base class's default, read from ``series``."""

    def __init__(self, inner: MetricsSource) -> None:
        self.inner = inner

    def kpis(self, start: datetime, end: datetime) -> Kpis:
        return self.inner.kpis(start, end)

    def series(
        self, signal: str, start: datetime, end: datetime, step_s: int, group_by: str = "none"
    ) -> list[MetricSeries]:
        return self.inner.series(signal, start, end, step_s, group_by)


def test_the_default_newest_agrees_with_the_source_to_a_step(
    h: MetricsHarness, source: MetricsSource
) -> None:
    end = h.end
    own = source.newest("requests", end, timedelta(hours=2), "route")
    default = SeriesOnly(source).newest("requests", end, timedelta(hours=2), "route")
    assert set(default) == set(own)
    for route, t in own.items():
        assert abs((default[route] - t).total_seconds()) <= 60, route
