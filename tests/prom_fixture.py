"""A private Prometheus for the connector and Overview tests.

History in all three naming schemes is generated as OpenMetrics text with
known constant rates, backfilled with promtool into a temporary TSDB, and
served by our OWN prometheus (and pushgateway, for live samples) on free
ports. Both are stopped by PID at the end. A missing binary skips the tests,
or fails them under LLMDECK_REQUIRE_BACKENDS=1 (tests.backends semantics).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.backends import _missing, promtool

# History ends 2 h before the real now (no overlap with the head block) and
# lasts 3 h; AT is a fixed instant inside it where every rate is constant.
HISTORY_END = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
HISTORY_START = HISTORY_END - timedelta(hours=3)
AT = HISTORY_END - timedelta(minutes=30)

# Per model, per minute: requests, tokens in, tokens out, dollars, errors,
# blocks, refusals. Latency: every request in one histogram bucket.
MODELS = {
    "gpt-4o-mini": dict(req=30, tin=27_000, tout=6_000, usd=0.6, err=1, block=2, refuse=3),
    "claude-3-5-haiku": dict(req=10, tin=9_000, tout=2_000, usd=1.2, err=0, block=1, refuse=1),
}
LAT_BUCKETS_MS = (500.0, 1000.0, 2000.0, 5000.0)
LAT_OF = {"gpt-4o-mini": 1000.0, "claude-3-5-haiku": 2000.0}  # bucket each model lands in


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def openmetrics(start: datetime, end: datetime) -> str:
    """Counters in the three schemes, one sample per minute, ending with ``# EOF``."""
    fams: dict[str, tuple[str, list[str]]] = {}

    def add(family: str, kind: str, line: str) -> None:
        fams.setdefault(family, (kind, []))[1].append(line)

    minutes = int((end - start).total_seconds() // 60)
    for i in range(minutes + 1):
        ts = int(start.timestamp()) + 60 * i
        for m, r in MODELS.items():
            lab = f'model="{m}",route="/support/chat",tenant="t1",prompt_version="p@1"'
            c = {k: v * i for k, v in r.items()}
            add(
                "llm_requests",
                "counter",
                f'llm_requests_total{{{lab},status="ok"}} {c["req"] - c["err"]} {ts}',
            )
            add(
                "llm_requests",
                "counter",
                f'llm_requests_total{{{lab},status="error"}} {c["err"]} {ts}',
            )
            add("tokens_in", "counter", f"tokens_in_total{{{lab}}} {c['tin']} {ts}")
            add("tokens_out", "counter", f"tokens_out_total{{{lab}}} {c['tout']} {ts}")
            add("cost_dollars", "counter", f"cost_dollars_total{{{lab}}} {c['usd']:.6f} {ts}")
            add("safety_block_count", "unknown", f"safety_block_count{{{lab}}} {c['block']} {ts}")
            add("refusal_count", "unknown", f"refusal_count{{{lab}}} {c['refuse']} {ts}")
            for le in (*LAT_BUCKETS_MS, float("inf")):
                n = c["req"] if le >= LAT_OF[m] else 0
                le_s = "+Inf" if le == float("inf") else f"{le}"
                add(
                    "generation_latency_ms",
                    "histogram",
                    f'generation_latency_ms_bucket{{{lab},le="{le_s}"}} {n} {ts}',
                )
            add(
                "generation_latency_ms",
                "histogram",
                f"generation_latency_ms_count{{{lab}}} {c['req']} {ts}",
            )
            add(
                "generation_latency_ms",
                "histogram",
                f"generation_latency_ms_sum{{{lab}}} {c['req'] * LAT_OF[m]} {ts}",
            )
            # OpenTelemetry GenAI, as the Prometheus exporter names it.
            ol = f'gen_ai_request_model="{m}",route="/support/chat"'
            for tt, key in (("input", "tin"), ("output", "tout")):
                add(
                    "gen_ai_client_token_usage",
                    "histogram",
                    f'gen_ai_client_token_usage_sum{{{ol},gen_ai_token_type="{tt}"}} {c[key]} {ts}',
                )
                add(
                    "gen_ai_client_token_usage",
                    "histogram",
                    f'gen_ai_client_token_usage_count{{{ol},gen_ai_token_type="{tt}"}} '
                    f"{c['req']} {ts}",
                )
                add(
                    "gen_ai_client_token_usage",
                    "histogram",
                    f'gen_ai_client_token_usage_bucket{{{ol},gen_ai_token_type="{tt}",le="+Inf"}}'
                    f" {c['req']} {ts}",
                )
            for le in (0.5, 1.0, 2.0, 5.0, float("inf")):
                n = c["req"] if le * 1000 >= LAT_OF[m] else 0
                le_s = "+Inf" if le == float("inf") else f"{le}"
                add(
                    "gen_ai_client_operation_duration_seconds",
                    "histogram",
                    f'gen_ai_client_operation_duration_seconds_bucket{{{ol},le="{le_s}"}} {n} {ts}',
                )
            add(
                "gen_ai_client_operation_duration_seconds",
                "histogram",
                f"gen_ai_client_operation_duration_seconds_count{{{ol}}} {c['req']} {ts}",
            )
            add(
                "gen_ai_client_operation_duration_seconds",
                "histogram",
                f"gen_ai_client_operation_duration_seconds_sum{{{ol}}} "
                f"{c['req'] * LAT_OF[m] / 1000} {ts}",
            )
            # LiteLLM proxy metrics.
            ll = f'model="{m}",team="t1",route="/chat/completions"'
            for fam, key in (
                ("litellm_proxy_total_requests_metric", "req"),
                ("litellm_proxy_failed_requests_metric", "err"),
                ("litellm_input_tokens_metric", "tin"),
                ("litellm_output_tokens_metric", "tout"),
                ("litellm_spend_metric", "usd"),
            ):
                add(fam, "counter", f"{fam}_total{{{ll}}} {c[key]} {ts}")
            for le in (0.5, 1.0, 2.0, 5.0, float("inf")):
                n = c["req"] if le * 1000 >= LAT_OF[m] else 0
                le_s = "+Inf" if le == float("inf") else f"{le}"
                add(
                    "litellm_request_total_latency_metric",
                    "histogram",
                    f'litellm_request_total_latency_metric_bucket{{{ll},le="{le_s}"}} {n} {ts}',
                )
            add(
                "litellm_request_total_latency_metric",
                "histogram",
                f"litellm_request_total_latency_metric_count{{{ll}}} {c['req']} {ts}",
            )
            add(
                "litellm_request_total_latency_metric",
                "histogram",
                f"litellm_request_total_latency_metric_sum{{{ll}}} "
                f"{c['req'] * LAT_OF[m] / 1e3} {ts}",
            )
    out = []
    for fam, (kind, lines) in fams.items():
        out.append(f"# TYPE {fam} {kind}")
        # OpenMetrics wants a family's samples grouped by series, in time order.
        out += sorted(lines, key=lambda ln: (ln.rsplit(" ", 2)[0], int(ln.rsplit(" ", 1)[1])))
    return "\n".join(out) + "\n# EOF\n"


@dataclass
class PromServer:
    """Our own prometheus + pushgateway; ``stop()``/``start()`` for outage tests."""

    data: Path
    config: Path
    port: int
    push_port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def push_url(self) -> str:
        return f"http://127.0.0.1:{self.push_port}"

    def start(self) -> None:
        if "push" not in self.procs:
            self.procs["push"] = subprocess.Popen(
                [
                    shutil.which("prometheus-pushgateway") or "prometheus-pushgateway",
                    f"--web.listen-address=127.0.0.1:{self.push_port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        self.procs["prom"] = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=30d",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("own prometheus did not become ready in 30 s")

    def stop(self, which: str = "prom") -> None:
        proc = self.procs.pop(which, None)
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def push(self, job: str, text: str) -> None:
        httpx.post(f"{self.push_url}/metrics/job/{job}", content=text, timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    """Our own backfilled Prometheus (3 h of history in all three schemes)."""
    tool = promtool()
    for binary in ("prometheus", "prometheus-pushgateway"):
        if not shutil.which(binary):
            _missing(f"{binary} not found", "apt-get install -y prometheus prometheus-pushgateway")
    root = tmp_path_factory.mktemp("prom")
    history = root / "history.om"
    history.write_text(openmetrics(HISTORY_START, HISTORY_END))
    data = root / "data"
    subprocess.run(
        [tool, "tsdb", "create-blocks-from", "openmetrics", str(history), str(data)],
        check=True,
        capture_output=True,
    )
    server = PromServer(data, root / "prom.yml", _free_port(), _free_port())
    server.config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 5s}\n"
        "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.push_port}']}}]\n"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop("prom")
        server.stop("push")
