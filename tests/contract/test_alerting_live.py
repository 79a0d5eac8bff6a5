"""The team's own alerting, end to end with real servers: a Prometheus of our
own loaded with the rules ``llmdeck slo rules`` writes and a backfilled
history, the backends script's Alertmanager receiving its alerts, a silence
made through the write pipeline and read back, and an Alertmanager outage
that leaves Prometheus' alerts answering.

How the alert fires: backfilled history, continued by a scrape target.
``promtool tsdb create-blocks-from openmetrics`` writes 7 hours of counters,
up to the moment Prometheus starts, in which ``/support/chat`` refuses 80% of
its requests (16x its 5% budget) and ``/billing`` 1%; the long windows (1h,
6h, 3d) read that history at once. The short windows need samples from the
last minutes for as long as the tests run, so a small HTTP server of the
test's own serves the same counters (the same series: the backfill carries
the job and instance labels the scrape adds) and Prometheus scrapes it every
second. Backfill alone makes the alert fire too (Prometheus 2.42 loads blocks
that reach up to now), but only for the 4-5 minutes the 5-minute window
keeps samples; and blocks that reach into the future make the head refuse
every recording rule's sample as "out of bounds" (seen here), so writing the
history ahead is no way round it.

The outage is a second Alertmanager that this module starts and stops: the
shared one belongs to every test session on the machine.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, TypeVar

import httpx
import pytest

from connectors.alerting.alertmanager import AlertmanagerAlerts
from connectors.alerting.prometheus import PrometheusAlerts
from connectors.errors import BackendUnavailable
from connectors.records import ExternalAlert, Matcher
from console.actions import Confirmation, Pipeline, SilenceAlert
from console.alerts import prom_rules
from console.alerts.external import external_alerts
from console.cli import main
from console.core.config import load_config
from console.core.session import Session
from tests.backends import _missing, promtool, require_backend

CHAT, BILLING = "/support/chat", "/billing"
STEP_S = 30
HISTORY = timedelta(hours=7)
JOB = "llmdeck-alerting-test"
# Per 30 s on each route: 10 requests; /support/chat refuses 8, /billing 0.1.
REQUESTS_PER_STEP = 10.0
REFUSALS_PER_STEP = {CHAT: 8.0, BILLING: 0.1}
WAIT_S = 60.0
T = TypeVar("T")
pytestmark = [pytest.mark.backend("alertmanager"), pytest.mark.backend("prometheus")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT_S) -> T:
    """``probe()`` once it returns something truthy; fails naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            got = probe()
        except (httpx.HTTPError, BackendUnavailable) as exc:
            got, last = None, exc
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout:g} s (last error: {last})")


def counters(origin: float, at: float) -> dict[str, tuple[float, float]]:
    """route -> (requests, refusals) counted from ``origin`` to ``at`` (unix seconds)."""
    steps = (at - origin) / STEP_S
    return {r: (REQUESTS_PER_STEP * steps, n * steps) for r, n in REFUSALS_PER_STEP.items()}


def history(origin: float, end: float, instance: str) -> str:
    """OpenMetrics of the counters from ``origin`` to ``end``, a sample every
    30 s, labelled as the scrape of ``instance`` will label them."""
    requests, refused = [], []
    for route in REFUSALS_PER_STEP:
        lab = f'job="{JOB}",instance="{instance}",route="{route}"'
        ts = origin
        while ts <= end:
            total, bad = counters(origin, ts)[route]
            requests.append(f'llm_requests_total{{{lab},status="ok"}} {total:.3f} {ts:.0f}')
            refused.append(f"refusal_count{{{lab}}} {bad:.3f} {ts:.0f}")
            ts += STEP_S
    # OpenMetrics: a family's samples grouped by series, in time order (as built).
    lines = ["# TYPE llm_requests counter", *requests, "# TYPE refusal_count unknown", *refused]
    return "\n".join(lines) + "\n# EOF\n"


class Target(BaseHTTPRequestHandler):
    """``/metrics``: the same counters now, in the text exposition format."""

    origin: ClassVar[float] = 0.0

    def do_GET(self) -> None:
        lines = ["# TYPE llm_requests_total counter", "# TYPE refusal_count untyped"]
        for route, (total, bad) in counters(self.origin, time.time()).items():
            lines.append(f'llm_requests_total{{route="{route}",status="ok"}} {total:.3f}')
            lines.append(f'refusal_count{{route="{route}"}} {bad:.3f}')
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Proc:
    """A server this module started (stopped by its PID, never by name)."""

    url: str
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(f"{self.url}/-/ready", lambda: self._ready(), 30)

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"{self.args[0]} exited with {self.proc.returncode} during start-up")
        return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@dataclass
class World:
    """Our Prometheus, the shared and the private Alertmanager, and the
    label that tells this run's alerts apart in the shared one."""

    prom: Proc
    shared_am: str
    private_am: Proc
    run_id: str
    root: Path

    def profile_file(self, am_url: str) -> Path:
        cfg = self.root / f"llmdeck-{abs(hash(am_url))}.yaml"
        cfg.write_text(
            "profiles:\n  p:\n"
            f"    workspace: {self.root / 'ws'}\n"
            f"    metrics: {{kind: prometheus, url: '{self.prom.url}'}}\n"
            f"    slos:\n      '{CHAT}': {{refusal_rate: 0.05}}\n"
            f"      '{BILLING}': {{refusal_rate: 0.05}}\n"
            "    alerting:\n"
            f"      - {{kind: prometheus, url: '{self.prom.url}'}}\n"
            f"      - {{kind: alertmanager, url: '{am_url}'}}\n"
        )
        return cfg

    def session(self, am_url: str, read_only: bool | None = None) -> Session:
        return Session(load_config(self.profile_file(am_url)).profile(), read_only=read_only)

    def mine(self, alerts: list[ExternalAlert]) -> list[ExternalAlert]:
        """Page alerts on /support/chat from this run (Alertmanager: by the external label)."""
        return [
            a
            for a in alerts
            if a.name == prom_rules.ALERT_NAME
            and a.labels.get("route") == CHAT
            and a.labels.get("severity") == "page"
            and a.labels.get("llmdeck_test", self.run_id) == self.run_id
        ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tool = promtool()
    shared_am = require_backend("alertmanager")
    for binary in ("prometheus", "prometheus-alertmanager"):
        if not shutil.which(binary):
            _missing(f"{binary} not found", "bash scripts/backends.sh install")
    root = tmp_path_factory.mktemp("alerting")
    run_id = uuid.uuid4().hex[:12]
    # The rules, from a profile, the way an operator makes them.
    seed = root / "seed.yaml"
    seed.write_text(
        "profiles:\n  p:\n    metrics: {kind: prometheus, url: 'http://127.0.0.1:9'}\n"
        f"    slos:\n      '{CHAT}': {{refusal_rate: 0.05}}\n"
        f"      '{BILLING}': {{refusal_rate: 0.05}}\n"
        # Firing after a second of burning, not the default two minutes.
        "    alerts: {for: 1s}\n"
    )
    rules = root / "rules.yml"
    assert main(["--config", str(seed), "slo", "rules", "-o", str(rules)]) == 0
    target = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    instance = f"127.0.0.1:{target.server_address[1]}"
    now = time.time()
    Target.origin = now - HISTORY.total_seconds()
    # Up to a step before now: the head takes the scraped samples from here on.
    (root / "history.om").write_text(history(Target.origin, now - STEP_S, instance))
    data = root / "data"
    subprocess.run(
        [tool, "tsdb", "create-blocks-from", "openmetrics", str(root / "history.om"), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    am_port, prom_port = _free_port(), _free_port()
    private = Proc(
        f"http://127.0.0.1:{am_port}",
        [
            "prometheus-alertmanager",
            f"--config.file={root / 'am.yml'}",
            f"--storage.path={root / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
    )
    (root / "am.yml").write_text("route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n")
    shared_target = shared_am.removeprefix("http://")
    (root / "prom.yml").write_text(
        "global:\n  evaluation_interval: 1s\n  scrape_interval: 1s\n"
        f"  external_labels: {{llmdeck_test: '{run_id}'}}\n"
        f"rule_files: ['{rules}']\n"
        f"scrape_configs:\n  - job_name: {JOB}\n"
        f"    static_configs: [{{targets: ['{instance}']}}]\n"
        "alerting:\n  alertmanagers:\n"
        f"    - static_configs: [{{targets: ['{shared_target}', '127.0.0.1:{am_port}']}}]\n"
    )
    prom = Proc(
        f"http://127.0.0.1:{prom_port}",
        [
            "prometheus",
            f"--config.file={root / 'prom.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--storage.tsdb.retention.time=30d",
            # Alerts that fire before the Alertmanagers are discovered are
            # dropped and sent again only after this delay (1m by default).
            "--rules.alert.resend-delay=1s",
        ],
    )
    world = World(prom, shared_am, private, run_id, root)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    try:
        private.start()
        prom.start()
        yield world
    finally:
        prom.stop()
        private.stop()
        target.shutdown()
        target.server_close()


@pytest.fixture
def silences_to_expire(world: World) -> Iterator[list[str]]:
    """Ids of silences a test made in the shared Alertmanager, expired afterwards."""
    made: list[str] = []
    yield made
    for silence_id in made:
        httpx.delete(f"{world.shared_am}/api/v2/silence/{silence_id}", timeout=5)


def test_prometheus_answers_the_firing_page_alert(world: World) -> None:
    source = PrometheusAlerts(url=world.prom.url)
    firing = wait_for(
        "page alert on /support/chat firing",
        lambda: [a for a in world.mine(source.alerts()) if a.state == "firing"],
    )
    alert = firing[0]
    assert alert.state == "firing"
    assert alert.labels["objective"] == "refusal_rate"
    assert alert.source == "prometheus"
    assert (
        alert.summary
        == "/support/chat: refusal rate below 5%, error budget burning too fast (page)"
    )
    # The value is the long window's bad share: 8 of 10 requests refused.
    assert alert.value == pytest.approx(0.8, rel=1e-6)
    assert alert.active_since is not None
    assert abs(alert.active_since - datetime.now(UTC)) < timedelta(minutes=5)
    # /billing refuses 1%, a fifth of its budget: nothing fires for it.
    assert not [a for a in source.alerts() if a.labels.get("route") == BILLING]
    source.close()


def test_alertmanager_receives_it(world: World) -> None:
    source = AlertmanagerAlerts(url=world.shared_am)
    got = wait_for("the page alert in Alertmanager", lambda: world.mine(source.alerts()))
    assert got[0].state == "firing" and got[0].source == "alertmanager"
    assert got[0].labels["llmdeck_test"] == world.run_id  # Prometheus' external label
    assert got[0].fingerprint
    source.close()


def test_the_console_lists_the_teams_alert_once_beside_its_own(world: World) -> None:
    from console.alerts.board import current

    session = world.session(world.shared_am)
    am = AlertmanagerAlerts(url=world.shared_am)
    wait_for("the page alert in Alertmanager", lambda: world.mine(am.alerts()))
    am.close()
    board = current(session, drift="off")
    team = [
        a
        for a in board.alerts
        if a.kind == "external"
        and a.labels.get("route") == CHAT
        and a.labels.get("severity") == "page"
        and a.labels.get("llmdeck_test") == world.run_id
    ]
    # Prometheus fires it and Alertmanager routes it: one line, Alertmanager's.
    assert [a.source for a in team] == ["alertmanager"]
    assert team[0].state == "firing" and team[0].severity == "page"
    assert team[0] in board.pages() or team[0].silenced(board.at)
    session.close()


def test_silence_through_the_pipeline_is_read_back(
    world: World, silences_to_expire: list[str]
) -> None:
    session = world.session(world.shared_am)
    am = AlertmanagerAlerts(url=world.shared_am)
    wait_for("the page alert in Alertmanager", lambda: world.mine(am.alerts()))
    matchers = (
        Matcher("llmdeck_test", world.run_id),
        Matcher("route", CHAT),
        Matcher("severity", "page"),
    )
    change = SilenceAlert(matchers, timedelta(hours=2), "v14 refuses; rollback under way")
    pipeline = Pipeline(session)
    plan = pipeline.plan(change)
    # The plan shows the matchers and the alerts they silence, read from Alertmanager.
    assert plan.target == f'llmdeck_test="{world.run_id}", route="/support/chat", severity="page"'
    assert plan.notes[0] == "silences 1 alert(s) active now"
    assert prom_rules.ALERT_NAME in plan.notes[1] and "route=/support/chat" in plan.notes[1]
    assert plan.steps[0].before == []
    outcome = pipeline.execute(plan, Confirmation(True, reason="v14 refuses"))
    assert outcome.status == "done", outcome.message
    silences_to_expire.extend(outcome.receipts)
    (silence_id,) = outcome.receipts
    assert silence_id in outcome.message
    # Read back by id: active, these matchers, two hours, the comment, who.
    silence = am.silence(silence_id)
    assert silence.state == "active"
    assert set(silence.matchers) == set(matchers)
    assert abs((silence.ends - silence.starts) - timedelta(hours=2)) < timedelta(seconds=5)
    assert silence.comment == "v14 refuses; rollback under way"
    assert silence.created_by == session.user
    # Alertmanager now shows the alert silenced by it, and so does the console.
    muted = wait_for(
        "the alert suppressed",
        lambda: [a for a in world.mine(am.alerts()) if silence_id in a.silenced_by],
    )
    assert muted[0].state == "suppressed"
    alerts, problems = external_alerts(session)
    assert problems == []
    mine = [
        a
        for a in alerts
        if a.source == "alertmanager" and a.labels.get("llmdeck_test") == world.run_id
    ]
    assert mine and mine[0].silenced_until == silence.ends
    assert mine[0].kind == "external" and mine[0].severity == "page" and mine[0].state == "firing"
    # Audited like every write; a second identical plan now sees the silence (conflict base).
    row = (
        session.store()
        .execute("SELECT action, target, outcome, reason FROM audit ORDER BY id DESC LIMIT 1")
        .fetchone()
    )
    assert tuple(row) == ("create_silence", plan.target, "done", "v14 refuses")
    assert pipeline.plan(change).steps[0].before == [silence_id]
    session.close()
    am.close()


def _count(am: AlertmanagerAlerts, matchers: tuple[Matcher, ...]) -> int:
    return sum(1 for s in am.silences() if set(s.matchers) == set(matchers))


def test_read_only_refuses_the_silence_and_audits_it(world: World) -> None:
    session = world.session(world.shared_am, read_only=True)
    am = AlertmanagerAlerts(url=world.shared_am)
    matchers = (Matcher("llmdeck_test", world.run_id), Matcher("route", BILLING))
    change = SilenceAlert(matchers, timedelta(hours=1), "should not happen")
    outcome = Pipeline(session).run(change, lambda p: Confirmation(True, reason="try"))
    assert outcome.status == "refused" and "read-only" in outcome.message
    assert _count(am, matchers) == 0
    row = session.store().execute("SELECT outcome FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    assert row[0] == "refused"
    # The connector refuses too (defence in depth), before sending anything.
    now = datetime.now(UTC)
    refusing = session.alert_source(1)
    with pytest.raises(Exception, match="read-only"):
        refusing.create_silence(
            matchers, now, now + timedelta(hours=1), created_by="t", comment="c"
        )
    assert _count(am, matchers) == 0
    session.close()
    am.close()


def test_cli_dry_run_shows_the_alerts_it_would_silence(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    am = AlertmanagerAlerts(url=world.shared_am)
    wait_for("the page alert in Alertmanager", lambda: world.mine(am.alerts()))
    cfg = world.profile_file(world.shared_am)
    args = ["--config", str(cfg), "silence", "--matcher", f"llmdeck_test={world.run_id}"]
    args += ["--matcher", 'severity=~"page|ticket"', "--for", "30m", "--reason", "x", "--dry-run"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f'plan: silence llmdeck_test="{world.run_id}", severity=~"page|ticket" for 30m' in out
    assert "note: silences " in out and prom_rules.ALERT_NAME in out
    assert "dry run: nothing written" in out
    assert _count(am, (Matcher("llmdeck_test", world.run_id),)) == 0
    am.close()


def test_alertmanager_down_marks_only_its_alerts_stale(world: World) -> None:
    session = world.session(world.private_am.url)
    am = AlertmanagerAlerts(url=world.private_am.url)
    wait_for("the page alert in our own Alertmanager", lambda: world.mine(am.alerts()))
    alerts, problems = external_alerts(session)
    assert problems == []
    by_source = {a.source for a in alerts if a.route == CHAT}
    assert by_source == {"prometheus", "alertmanager"}
    assert not any(a.stale for a in alerts)
    world.private_am.stop()
    try:
        alerts, problems = external_alerts(session)
    finally:
        world.private_am.start()  # later tests of this module may want it
    stale = [a for a in alerts if a.stale]
    fresh = [a for a in alerts if not a.stale]
    assert stale and {a.source for a in stale} == {"alertmanager"}
    assert all("unreachable" in a.stale and world.private_am.url in a.stale for a in stale)
    assert fresh and {a.source for a in fresh} == {"prometheus"}
    assert any(a.route == CHAT and a.severity == "page" for a in fresh)
    (problem,) = problems
    assert problem.startswith("alerting alertmanager: alertmanager http://127.0.0.1:")
    session.close()
    am.close()
