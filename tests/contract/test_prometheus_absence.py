"""Absence against our own real Prometheus, backfilled with history that stops at
known moments: a route whose series end (its scrape died), a route whose counter
goes flat (the gateway stopped logging, the exporter still answers), a signal
whose exporter died while requests flow, and then the whole stream.

``newest`` is one subquery per signal and must find each stop to the minute;
``absence.evaluate`` turns them into a page and tickets; ``llmdeck metrics``
prints every panel it can, the silent one and the broken one with their reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.metrics.prometheus import PrometheusMetrics
from console.alerts import absence
from console.alerts.absence import since_text
from tests.backends import _missing, promtool
from tests.prom_fixture import PromServer, _free_port

# History ends 2 h before the real now (no overlap with the head block).
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
START = T0 - timedelta(hours=3)
B_END = T0 - timedelta(minutes=40)  # /b: its series end (the scrape died)
C_FLAT = T0 - timedelta(minutes=30)  # /c: counters stop moving, samples go on
TOK_END = T0 - timedelta(minutes=90)  # tokens_in_total: its exporter died
AT_LIVE = T0 - timedelta(minutes=5)  # /a still flowing
AT_GONE = T0 + timedelta(minutes=30)  # everything stopped at T0
DAY = timedelta(hours=24)
LAT_BUCKETS = ("500.0", "1000.0", "2000.0", "+Inf")


def history() -> str:
    """Playbook-scheme counters, a sample a minute per route, ending ``# EOF``."""
    fams: dict[str, tuple[str, list[str]]] = {}

    def add(family: str, kind: str, line: str) -> None:
        fams.setdefault(family, (kind, []))[1].append(line)

    ends = {"/a": T0, "/b": B_END, "/c": T0}
    for route, end in ends.items():
        lab = f'route="{route}",model="m1",tenant="t1",prompt_version="p@1"'
        minutes = int((end - START).total_seconds() // 60)
        for i in range(minutes + 1):
            ts = int(START.timestamp()) + 60 * i
            moved = i
            if route == "/c":
                moved = min(i, int((C_FLAT - START).total_seconds() // 60))
            n = 20 * moved  # 20 requests a minute while it moves
            add("llm_requests", "counter", f'llm_requests_total{{{lab},status="ok"}} {n} {ts}')
            add(
                "llm_requests",
                "counter",
                f'llm_requests_total{{{lab},status="error"}} {moved} {ts}',
            )
            if ts <= TOK_END.timestamp():
                add("tokens_in", "counter", f"tokens_in_total{{{lab}}} {900 * n} {ts}")
            add("tokens_out", "counter", f"tokens_out_total{{{lab}}} {200 * n} {ts}")
            add("cost_dollars", "counter", f"cost_dollars_total{{{lab}}} {0.002 * n:.6f} {ts}")
            add("safety_block_count", "unknown", f"safety_block_count{{{lab}}} {moved} {ts}")
            add("refusal_count", "unknown", f"refusal_count{{{lab}}} {2 * moved} {ts}")
            for le in LAT_BUCKETS:
                count = n if le != "500.0" else 0
                add(
                    "generation_latency_ms",
                    "histogram",
                    f'generation_latency_ms_bucket{{{lab},le="{le}"}} {count} {ts}',
                )
            add(
                "generation_latency_ms",
                "histogram",
                f"generation_latency_ms_count{{{lab}}} {n} {ts}",
            )
            add(
                "generation_latency_ms",
                "histogram",
                f"generation_latency_ms_sum{{{lab}}} {800 * n} {ts}",
            )
    out = []
    for fam, (kind, lines) in fams.items():
        out.append(f"# TYPE {fam} {kind}")
        # OpenMetrics wants a family's samples grouped by series, in time order.
        out += sorted(lines, key=lambda ln: (ln.rsplit(" ", 2)[0], int(ln.rsplit(" ", 1)[1])))
    return "\n".join(out) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    """Our own Prometheus over that history (no scrapes: nothing live)."""
    tool = promtool()
    for binary in ("prometheus", "prometheus-pushgateway"):
        if not shutil.which(binary):
            _missing(f"{binary} not found", "apt-get install -y prometheus prometheus-pushgateway")
    root = tmp_path_factory.mktemp("prom-absence")
    (root / "history.om").write_text(history())
    subprocess.run(
        [
            tool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(root / "history.om"),
            str(root / "data"),
        ],
        check=True,
        capture_output=True,
    )
    server = PromServer(root / "data", root / "prom.yml", _free_port(), _free_port())
    server.config.write_text("global: {scrape_interval: 5s}\nscrape_configs: []\n")
    server.start()
    try:
        yield server
    finally:
        server.stop("prom")
        server.stop("push")


def within_a_minute(got: datetime, want: datetime) -> bool:
    return abs((got - want).total_seconds()) <= 60


def test_newest_finds_each_stop_to_the_minute(prom: PromServer) -> None:
    m = PrometheusMetrics(url=prom.url)
    routes = m.newest("requests", AT_LIVE, DAY, "route")
    assert set(routes) == {"/a", "/b", "/c"}
    assert within_a_minute(routes["/a"], AT_LIVE)
    assert within_a_minute(routes["/b"], B_END)  # series ended
    assert within_a_minute(routes["/c"], C_FLAT)  # counter flat: no requests since
    assert all(t <= AT_LIVE for t in routes.values())
    (tokens,) = m.newest("tokens_in", AT_LIVE, DAY).values()
    assert within_a_minute(tokens, TOK_END)
    (p99,) = m.newest("latency_p99", AT_LIVE, DAY).values()
    assert within_a_minute(p99, AT_LIVE)
    # Before the history began, and with a lookback that ends before it: nothing.
    assert m.newest("requests", START - timedelta(hours=1), DAY, "route") == {}
    assert m.newest("requests", START - timedelta(minutes=1), timedelta(hours=1)) == {}
    with pytest.raises(ValueError, match="unknown signal"):
        m.newest("vibes", AT_LIVE, DAY)


def test_newest_is_one_cheap_query_per_signal(prom: PromServer) -> None:
    m = PrometheusMetrics(url=prom.url)
    started = time.perf_counter()
    for signal in ("requests", "tokens_in", "latency_p99", "refusal_rate"):
        m.newest(signal, AT_LIVE, DAY, "route" if signal == "requests" else "none")
    took = (time.perf_counter() - started) / 4
    # 1,440 subquery steps over a few series; generous for a loaded 2-core machine.
    assert took < 1.0, f"{took:.3f} s per newest() query"


def test_alerts_while_the_stream_flows(prom: PromServer) -> None:
    alerts = absence.evaluate(PrometheusMetrics(url=prom.url), AT_LIVE)
    assert [(a.key, a.severity) for a in alerts] == [
        ("absent:/b:requests", "ticket"),
        ("absent:/c:requests", "ticket"),
        ("absent:tokens_in", "ticket"),
    ]
    by_key = {a.key: a for a in alerts}
    b = by_key["absent:/b:requests"]
    assert b.title.startswith("no data since ") and b.title.endswith(" for requests on /b")
    assert b.onset is not None and within_a_minute(b.onset, B_END + timedelta(minutes=10))
    assert by_key["absent:tokens_in"].labels == {"signal": "tokens_in"}


def test_whole_stream_gone_pages(prom: PromServer) -> None:
    alerts = absence.evaluate(PrometheusMetrics(url=prom.url), AT_GONE)
    keys = [(a.key, a.severity) for a in alerts]
    assert keys[0] == ("absent:requests", "page")
    # /a and the signals that stopped with the stream are folded into the page;
    # what stopped earlier keeps its own ticket.
    assert sorted(keys[1:]) == [
        ("absent:/b:requests", "ticket"),
        ("absent:/c:requests", "ticket"),
        ("absent:tokens_in", "ticket"),
    ]
    page = alerts[0]
    assert page.onset is not None
    stopped = page.onset - timedelta(minutes=10)
    assert within_a_minute(stopped, T0)
    assert page.title == f"no data since {since_text(stopped, AT_GONE)} for requests"
    assert "routes /a" in page.detail and "latency_p99" in page.detail


def test_metrics_prints_every_panel_it_can(prom: PromServer, tmp_path: Path) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n"
        f"    metrics: {{kind: prometheus, url: '{prom.url}'}}\n"
        "    panels:\n      cost: 'sum(rate(cost_dollars_total[$window]'\n"
    )
    env = {**os.environ, "LLMDECK_FROZEN_TIME": AT_LIVE.isoformat()}
    run = [sys.executable, "-m", "console", "--config", str(cfg), "metrics", "--range", "1h"]
    text = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert text.returncode == 3, text.stderr
    lines = text.stdout.splitlines()
    tok = since_text(TOK_END, AT_LIVE)
    # The tokens exporter died before the range began: its card and panel say
    # since when; the panel still draws tokens_out.
    assert f"  tokens_in_per_min      no data since {tok}" in lines
    assert f"  panel tokens           no data since {tok} for tokens_in" in lines
    cost = next(ln for ln in lines if ln.startswith("  panel cost"))
    assert "backend error: " in cost and "parse error" in cost
    for key in ("latency", "rates", "refusals", "output"):
        assert any(ln.startswith(f"  panel {key:16} ") and ln.endswith(" series") for ln in lines)
    assert any(ln.startswith("  absent (ticket) no data since") and "/b" in ln for ln in lines)

    data = json.loads(
        subprocess.run(
            [*run, "--json"], capture_output=True, text=True, env=env, timeout=120
        ).stdout
    )
    assert data["status"] == "partial"
    assert data["panels"]["tokens"]["status"] == "no_data"
    assert [s["label"] for s in data["panels"]["tokens"]["series"]] == ["tokens_out"]
    assert data["panels"]["cost"]["status"] == "error"
    assert data["panels"]["cost"]["problem"].startswith("backend error: ")
    assert data["panels"]["latency"] | {"series": []} == {
        "title": "latency (ms)",
        "status": "ok",
        "problem": None,
        "since": None,
        "error": None,
        "series": [],
    }
    assert data["kpi_status"]["tokens_in_per_min"]["status"] == "no_data"
    assert data["kpis"]["tokens_in_per_min"] is None
    assert data["kpis"]["requests_per_min"] > 0
