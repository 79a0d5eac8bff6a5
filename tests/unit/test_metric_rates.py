"""Issue 14, defect 11: a rate a backend answers outside [0, 1] (130%, -5%) is not
shown as a figure: the KPI card and the rates panels say it is invalid and why.

The fake server answers in the shape of Prometheus' documented HTTP query API
(https://prometheus.io/docs/prometheus/latest/querying/api/): ``/api/v1/query``
returns ``{"status": "success", "data": {"resultType": "vector", "result":
[{"metric": {...}, "value": [unix_s, "string value"]}]}}`` and
``/api/v1/query_range`` the same with ``"resultType": "matrix"`` and ``"values"``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from connectors.metrics.prometheus import PrometheusMetrics
from console.overview import kpis, panels

END = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=1)
# What the fake answers per signal, told apart by its PromQL (scheme "playbook").
BAD = {"error|timeout": "1.3", "safety_block": "-0.05", "refusal": "0.02"}


def _value_for(promql: str) -> str:
    return next((v for needle, v in BAD.items() if needle in promql), "10")


def _answer(request: httpx.Request) -> httpx.Response:
    promql = request.url.params["query"]
    value = _value_for(promql)
    if request.url.path == "/api/v1/query":
        data = {
            "resultType": "vector",
            "result": [{"metric": {}, "value": [END.timestamp(), value]}],
        }
    else:
        start, step = float(request.url.params["start"]), float(request.url.params["step"])
        data = {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[start + i * step, value] for i in range(3)]}],
        }
    return httpx.Response(200, json={"status": "success", "data": data})


def _prometheus() -> PrometheusMetrics:
    m = PrometheusMetrics(url="http://prom.test")
    m._client = httpx.Client(base_url=m.url, transport=httpx.MockTransport(_answer))
    return m


def test_the_fake_answers_each_rate_by_its_query() -> None:
    m = _prometheus()
    k = m.kpis(START, END)
    assert (k.error_rate, k.block_rate, k.refusal_rate) == (1.3, -0.05, 0.02)


def test_kpi_cards_mark_rates_outside_0_1_invalid_with_the_reason() -> None:
    by_key = {c.key: c for c in kpis.cards(_prometheus().kpis(START, END))}
    errors, blocks, refusals = by_key["error_rate"], by_key["block_rate"], by_key["refusal_rate"]
    assert errors.text == "invalid" and errors.value is None and errors.severity == "bad"
    assert errors.why == "backend answered 130%: not a rate"
    assert blocks.text == "invalid" and blocks.why == "backend answered -5%: not a rate"
    assert refusals.text == "2.0%" and refusals.why == ""  # a real rate is shown


def test_kpi_cards_mark_nan_invalid() -> None:
    k = _prometheus().kpis(START, END)
    from dataclasses import replace

    card = next(
        c for c in kpis.cards(replace(k, refusal_rate=float("nan"))) if c.key == "refusal_rate"
    )
    assert card.text == "invalid" and card.why == "backend answered NaN: not a rate"


def test_rate_panels_show_why_instead_of_a_line_at_130_percent() -> None:
    m = _prometheus()
    by_key = {p.key: p for p in panels.PANELS}
    rates = panels.load_panel(m, by_key["rates"], START, END, 60, "none")
    assert rates.lines == ()
    assert rates.error is not None
    assert rates.error.startswith("error_rate: backend answered 130%: not a rate (at 2026-12-01")
    # A panel whose rates are real still draws; other panels are not judged as rates.
    assert panels.load_panel(m, by_key["refusals"], START, END, 60, "none").error is None
    assert panels.load_panel(m, by_key["tokens"], START, END, 60, "none").error is None
