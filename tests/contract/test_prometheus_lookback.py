"""``--at`` against our own real Prometheus whose history ended two hours ago
(tests/prom_fixture.py: backfilled with promtool, nothing since; the fixture
keeps the history two hours old so it never overlaps the head block).

Live, the last hour is empty: no data, the request stream absent; pinned
inside the history, every figure is the one generated and nothing is absent.
The clock is not frozen: the server's history is real time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.errors import ConnectorError
from console.core.config import load_config
from console.core.series_cache import metrics_source
from console.core.session import Session
from console.core.spans import RANGES
from console.overview import kpis
from console.overview.panels import load_panels
from tests.prom_fixture import AT, HISTORY_END, PromServer, prom  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(f"profiles:\n  p:\n    metrics: {{kind: prometheus, url: '{url}'}}\n")
    return cfg


def _metrics(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LLMDECK_FROZEN_TIME"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "console", "--config", str(cfg), "metrics", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_history_that_ended_is_readable_with_at(prom: PromServer, tmp_path: Path) -> None:  # noqa: F811
    cfg = _config(tmp_path, prom.url)
    live = _metrics(cfg)
    # Nothing in the last hour: live, every KPI is "no data since" the history's
    # end and the request stream is absent (a page): partial, exit 3.
    assert live.returncode == 3, live.stderr
    now = json.loads(live.stdout)
    assert now["status"] == "partial" and now["kpis"]["requests"] == 0
    since = f"no data since {HISTORY_END:%H:%M}"
    assert now["kpi_status"]["tokens_in_per_min"] == {"status": "no_data", "problem": since}
    assert [a["key"] for a in now["absent"]] == ["absent:requests"]

    pinned = _metrics(cfg, "--at", AT.isoformat())
    assert pinned.returncode == 0, pinned.stderr
    past = json.loads(pinned.stdout)
    assert past["end"] == AT.isoformat()
    assert past["status"] == "ok" and past["absent"] == []
    # The rates the fixture generated: 40 requests a minute, 36k tokens in.
    assert past["kpis"]["requests"] == 2400
    assert past["kpis"]["tokens_in_per_min"] == pytest.approx(36_000, rel=1e-6)
    assert past["kpis"]["refusal_rate"] == pytest.approx(4 / 40)
    assert past["panels"]["tokens"]["status"] == "ok"
    series = {s["label"]: s["points"] for s in past["panels"]["tokens"]["series"]}
    assert max(t for t, _ in series["tokens_in"]) < AT.timestamp()
    assert all(v == pytest.approx(36_000) for _, v in series["tokens_in"])
    assert all(v == pytest.approx(8_000) for _, v in series["tokens_out"])


def test_around_the_end_of_the_history(prom: PromServer, tmp_path: Path) -> None:  # noqa: F811
    """Pinned half an hour after the history ended, the hour holds half of it and
    the stream is absent since the end, as it was then; an hour after, nothing."""
    cfg = _config(tmp_path, prom.url)
    half = _metrics(cfg, "--at", (HISTORY_END + timedelta(minutes=30)).isoformat())
    data = json.loads(half.stdout)
    assert half.returncode == 3, half.stderr
    assert 0 < data["kpis"]["requests"] < 2400
    assert "30 min ago" in data["absent"][0]["detail"]  # judged from the pinned moment
    after = json.loads(
        _metrics(cfg, "--at", (HISTORY_END + timedelta(minutes=61)).isoformat()).stdout
    )
    assert after["kpis"]["requests"] == 0 and "61 min ago" in after["absent"][0]["detail"]


def test_stepping_back_inside_a_live_window_asks_nothing_reversed(
    prom: PromServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A screen's ``[`` after a live load: the SLO's 6 h window (step 60) is cached,
    and the pinned hour lies inside what is final. Prometheus refuses a range query
    whose end is before its start; the cache must not send one."""
    session = Session(load_config(_config(tmp_path, prom.url)).profile("p"))
    try:
        cached = metrics_source(session)
        cached.series("tokens_in", AT - timedelta(hours=4), session.view.now(), 60)
        session.view.pin(AT)
        try:
            panels = load_panels(session, RANGES["1h"], "none")
        except ConnectorError as exc:  # pragma: no cover - the regression
            pytest.fail(str(exc))
        tokens = panels["tokens"]
        assert tokens.error is None, tokens.error
        assert tokens.queried == AT
        tokens_in = next(ln for ln in tokens.lines if ln.label == "tokens_in")
        assert len(tokens_in.points) == 60
        assert all(v == pytest.approx(36_000) for _, v in tokens_in.points[5:])
        assert kpis.load(session, RANGES["1h"]).requests == 2400
    finally:
        session.close()
