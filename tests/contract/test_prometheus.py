"""The Prometheus connector against our own backfilled Prometheus (all three
naming schemes), a live pushgateway sample, ``llmdeck metrics --json``, and
every kind of bad answer from a misbehaving local HTTP server."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from connectors.errors import AuthError, BackendUnavailable, InvalidResponse, QueryError
from connectors.metrics.prometheus import PrometheusMetrics, step_for
from tests.prom_fixture import AT, PromServer, prom  # noqa: F401 - fixture

WINDOW = timedelta(hours=1)
# What each scheme calls tokens-in and requests, written by hand (not from the templates).
DIRECT = {
    "playbook": (
        "sum(rate(tokens_in_total[3600s])) * 60",
        "sum(rate(llm_requests_total[3600s]))*60",
    ),
    "otel-genai": (
        'sum(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[3600s])) * 60',
        "sum(rate(gen_ai_client_operation_duration_seconds_count[3600s])) * 60",
    ),
    "litellm": (
        "sum(rate(litellm_input_tokens_metric_total[3600s])) * 60",
        "sum(rate(litellm_proxy_total_requests_metric_total[3600s])) * 60",
    ),
}


def direct(prom: PromServer, promql: str) -> float:  # noqa: F811
    import httpx

    body = httpx.get(
        f"{prom.url}/api/v1/query", params={"query": promql, "time": AT.timestamp()}
    ).json()
    return float(body["data"]["result"][0]["value"][1])


@pytest.mark.parametrize("scheme", ["playbook", "otel-genai", "litellm"])
def test_kpis_equal_direct_promql(prom: PromServer, scheme: str) -> None:  # noqa: F811
    m = PrometheusMetrics(url=prom.url, scheme=scheme)
    k = m.kpis(AT - WINDOW, AT)
    tokens_q, req_q = DIRECT[scheme]
    assert k.tokens_in_per_min == pytest.approx(direct(prom, tokens_q))
    assert k.tokens_in_per_min == pytest.approx(36_000, rel=1e-6)  # as generated
    assert k.requests_per_min == pytest.approx(direct(prom, req_q))
    assert k.requests == 2400
    # 30/min of gpt in the 1000 ms bucket, 10/min of claude in 2000: rank 38 of 40.
    assert k.latency_p95_ms == pytest.approx(1800.0)
    if scheme != "otel-genai":
        assert k.error_rate == pytest.approx(1 / 40)
    if scheme == "playbook":
        assert k.refusal_rate == pytest.approx(4 / 40)
        assert k.block_rate == pytest.approx(3 / 40)
        assert k.cost_per_hour == pytest.approx(1.8 * 60)
    else:
        assert k.refusal_rate is None  # the scheme offers no refusal metric


@pytest.mark.parametrize("scheme", ["playbook", "otel-genai", "litellm"])
def test_series_grouped_by_model(prom: PromServer, scheme: str) -> None:  # noqa: F811
    m = PrometheusMetrics(url=prom.url, scheme=scheme)
    series = m.series("tokens_out", AT - timedelta(minutes=30), AT, 60, "model")
    by_model = {s.labels["model"]: s for s in series}
    assert set(by_model) == {"gpt-4o-mini", "claude-3-5-haiku"}
    assert all(v == pytest.approx(6000) for _, v in by_model["gpt-4o-mini"].points)
    assert len(by_model["gpt-4o-mini"].points) == 30  # a point per step of [start, end)


def test_metrics_json_equals_direct_query(prom: PromServer, tmp_path: Path) -> None:  # noqa: F811
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text("profiles:\n  p:\n    metrics: {kind: prometheus, url: '" + prom.url + "'}\n")
    env = {**os.environ, "LLMDECK_FROZEN_TIME": AT.isoformat()}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "--config",
            str(cfg),
            "metrics",
            "--json",
            "--range",
            "1h",
            "--group-by",
            "model",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["kpis"]["tokens_in_per_min"] == pytest.approx(direct(prom, DIRECT["playbook"][0]))
    assert data["kpis"]["refusal_rate"] == pytest.approx(
        direct(prom, "sum(rate(refusal_count[3600s])) / sum(rate(llm_requests_total[3600s]))")
    )
    cost = data["panels"]["cost"]["series"]
    assert {s["label"] for s in cost} == {"gpt-4o-mini", "claude-3-5-haiku"}


def test_live_pushed_sample_is_seen(prom: PromServer) -> None:  # noqa: F811
    from datetime import UTC, datetime

    prom.push("llmdeck-test", 'eval_pass_ratio{model="live-model"} 0.87\n')
    m = PrometheusMetrics(url=prom.url)
    deadline = time.monotonic() + 20
    value = None
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        rows = m.query('eval_pass_ratio{model="live-model"}', now)
        if rows:
            value = rows[0][1]
            break
        time.sleep(0.5)
    assert value == pytest.approx(0.87)


def test_profile_override_with_bad_promql_is_a_query_error(prom: PromServer) -> None:  # noqa: F811
    m = PrometheusMetrics(url=prom.url, panels={"cost": "sum(rate(cost_dollars_total[$window]"})
    with pytest.raises(QueryError, match=r"cost: bad_data: .*parse error"):
        m.series("cost", AT - WINDOW, AT, 60)
    # the other panels keep working
    assert m.series("tokens_in", AT - WINDOW, AT, 60)


def test_empty_result_and_inf(prom: PromServer) -> None:  # noqa: F811
    m = PrometheusMetrics(
        url=prom.url,
        panels={
            "cost": "sum(rate(no_such_metric[$window]))",
            "tokens_in": "sum(rate(tokens_in_total[$window])) / 0",
        },
    )
    with pytest.raises(InvalidResponse, match="cost: empty result"):
        m.series("cost", AT - WINDOW, AT, 60)
    with pytest.raises(InvalidResponse, match=r"tokens_in: value is \+Inf"):
        m.series("tokens_in", AT - WINDOW, AT, 60)


class _Bad(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    seen: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        mode = self.path.split("/")[1]
        if mode == "slow":
            time.sleep(1.5)
        if mode in ("flaky", "basic"):
            self._special(mode)
            return
        status, body = {
            "e400": (400, b'{"status":"error","errorType":"bad_data","error":"1:1: parse error"}'),
            "e401": (401, b"Unauthorized"),
            "e503": (503, b'{"status":"error","error":"overloaded"}'),
            "html": (200, b"<html>login page</html>"),
            "nan": (
                200,
                b'{"status":"success","data":{"resultType":"vector","result":'
                b'[{"metric":{},"value":[1,"NaN"]}]}}',
            ),
            "slow": (200, b"{}"),
        }[mode]
        self.send_response(status)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # the client gave up (timeout test)
            self.wfile.write(body)

    OK = (
        b'{"status":"success","data":{"resultType":"vector","result":'
        b'[{"metric":{},"value":[1,"42"]}]}}'
    )

    def _special(self, mode: str) -> None:
        if mode == "flaky":  # 503 with Retry-After on the first try of each query
            key = self.path
            self.seen[key] = self.seen.get(key, 0) + 1
            status = 503 if self.seen[key] == 1 else 200
        else:  # basic auth: user "prom", password "pw"
            ok = self.headers.get("Authorization") == "Basic cHJvbTpwdw=="
            status = 200 if ok else 401
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0.2")
        self.end_headers()
        self.wfile.write(self.OK if status == 200 else b"no")


@pytest.fixture(scope="module")
def bad_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bad)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    ("mode", "error", "match"),
    [
        ("e400", QueryError, "bad_data: 1:1: parse error"),
        ("e401", AuthError, "HTTP 401, credentials refused"),
        ("e503", BackendUnavailable, "HTTP 503: overloaded"),
        ("html", InvalidResponse, "not JSON"),
        ("slow", BackendUnavailable, "timed out"),
    ],
)
def test_bad_answers_are_one_line_errors(bad_url: str, mode: str, error: type, match: str) -> None:
    m = PrometheusMetrics(
        url=f"{bad_url}/{mode}", token="s3cret", timeout=0.5, retries=1, backoff=0.01
    )
    with pytest.raises(error, match=match) as info:
        m.kpis(AT - WINDOW, AT)
    text = str(info.value)
    assert "\n" not in text and "s3cret" not in text


def test_retry_honours_retry_after_then_succeeds(bad_url: str) -> None:
    m = PrometheusMetrics(url=f"{bad_url}/flaky", retries=1, backoff=5.0)
    started = time.perf_counter()
    assert m.instant("requests", AT - WINDOW, AT) == 42.0
    # waited Retry-After (0.2 s), not the 5 s backoff
    assert 0.2 <= time.perf_counter() - started < 3.0
    no_retry = PrometheusMetrics(url=f"{bad_url}/flaky", retries=0)
    with pytest.raises(BackendUnavailable, match="HTTP 503"):
        no_retry.instant("tokens_in", AT - timedelta(minutes=7), AT)


def test_basic_auth(bad_url: str) -> None:
    good = PrometheusMetrics(url=f"{bad_url}/basic", username="prom", password="pw")
    assert good.instant("requests", AT - WINDOW, AT) == 42.0
    bad = PrometheusMetrics(url=f"{bad_url}/basic", username="prom", password="nope")
    with pytest.raises(AuthError, match="401") as info:
        bad.instant("requests", AT - WINDOW, AT)
    assert "nope" not in str(info.value)


def test_profile_selects_scheme_and_overrides(prom: PromServer, tmp_path: Path) -> None:  # noqa: F811
    from console.core.config import load_config
    from console.core.series_cache import metrics_source
    from console.core.session import Session

    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n"
        f"    metrics: {{kind: prometheus, url: '{prom.url}'}}\n"
        "    panels:\n      scheme: litellm\n"
        "      cost: sum by ($by) (rate(litellm_spend_metric_total[$window])) * 3600 * 2\n"
    )
    session = Session(load_config(cfg).profile("p"))
    m = metrics_source(session)
    k = m.kpis(AT - WINDOW, AT)
    assert k.requests_per_min == pytest.approx(40)  # litellm's request counter
    assert k.cost_per_hour == pytest.approx(2 * 1.8 * 60)  # the override
    session.close()


def test_nan_means_no_data_for_a_kpi(bad_url: str) -> None:
    m = PrometheusMetrics(url=f"{bad_url}/nan")
    assert m.instant("latency_p95", AT - WINDOW, AT) is None


def test_step_from_range() -> None:
    assert step_for(AT - timedelta(minutes=15), AT) == 15
    assert step_for(AT - timedelta(hours=1), AT) == 15
    assert step_for(AT - timedelta(hours=24), AT) == 600
    assert step_for(AT - timedelta(days=7), AT) == 3600
