"""``llmdeck metrics`` on a workspace whose newest hour is empty: every KPI and
panel is printed with its reason ("no data since 10:50"), not as zeros and not
as one failure; the exit code says the output is partial (3), and is 0 when
everything was read, even with one route absent (that is an alert, listed)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from console.cli import main
from console.overview.kpis import CARD_KEYS
from console.overview.panels import PANELS
from tests import traffic
from tests.conftest import FIXED_NOW

NOW = FIXED_NOW  # 12:00
START = NOW - timedelta(hours=8)
STOP = NOW - timedelta(minutes=69, seconds=48)  # 10:50:12: the newest hour is empty


@pytest.fixture
def stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLMDECK_FROZEN_TIME", NOW.isoformat())
    return traffic.workspace(tmp_path / "ws", {"/a": (START, STOP), "/b": (START, STOP)})


def metrics(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--config", str(cfg), "metrics", *args])
    return code, capsys.readouterr().out


def test_newest_hour_empty_prints_every_panel_with_its_reason(
    stopped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = metrics(stopped, capsys, "--range", "1h")
    assert code == 3, out
    lines = out.splitlines()
    for key in CARD_KEYS:
        assert f"  {key:22} no data since 10:50" in lines
    assert "  requests               0" in lines
    for p in PANELS:
        assert f"  panel {p.key:16} no data since 10:50" in lines
    assert "  absent (page) no data since 10:50 for requests" in lines
    assert not any("0.0" in ln or " - " in ln for ln in lines), out


def test_newest_hour_empty_json(stopped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = metrics(stopped, capsys, "--range", "1h", "--json")
    assert code == 3
    data = json.loads(out)
    assert data["status"] == "partial"
    assert {k: v for k, v in data["kpis"].items() if k != "requests"} == dict.fromkeys(CARD_KEYS)
    assert data["kpis"]["requests"] == 0
    assert all(
        s == {"status": "no_data", "problem": "no data since 10:50"}
        for s in data["kpi_status"].values()
    )
    for panel in data["panels"].values():
        assert panel["status"] == "no_data"
        assert panel["problem"] == "no data since 10:50"
        assert panel["since"] == STOP.isoformat()
        assert panel["series"] == []
    assert [a["key"] for a in data["absent"]] == ["absent:requests"]
    assert data["absent"][0]["onset"] == (STOP + timedelta(minutes=10)).isoformat()
    assert data["newest"]["requests"] == STOP.isoformat()
    assert "panel cost: no data since 10:50" in data["problems"]


def test_a_longer_range_draws_the_data_and_says_it_stopped(
    stopped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = metrics(stopped, capsys, "--range", "6h", "--json")
    assert code == 3
    data = json.loads(out)
    # 06:00-12:00 holds 06:00:12-10:50:12 of traffic, two routes a minute: real
    # figures on the cards...
    assert data["kpis"]["requests_per_min"] == pytest.approx(2 * (4 * 60 + 51) / 360)
    assert all(s["status"] == "ok" for s in data["kpi_status"].values())
    # ...and panels with their series, marked as stopped.
    cost = data["panels"]["cost"]
    assert cost["series"] and cost["status"] == "no_data"
    assert cost["problem"] == "no data since 10:50"


def test_everything_read_is_exit_0_even_with_a_route_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLMDECK_FROZEN_TIME", NOW.isoformat())
    cfg = traffic.workspace(
        tmp_path / "ws", {"/a": (START, NOW - timedelta(seconds=5)), "/b": (START, STOP)}
    )
    code, out = metrics(cfg, capsys, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "ok" and data["partial"] == []
    assert all(p["status"] == "ok" and p["problem"] is None for p in data["panels"].values())
    assert [a["title"] for a in data["absent"]] == ["no data since 10:50 for requests on /b"]
    code, out = metrics(cfg, capsys)
    assert code == 0
    assert "  absent (ticket) no data since 10:50 for requests on /b" in out.splitlines()


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["metrics", "--help"])
    text = capsys.readouterr().out
    assert "exit status:" in text
    assert "3  partial" in text and "2  nothing could be read" in text
