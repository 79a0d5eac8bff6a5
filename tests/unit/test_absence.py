"""Absence on a workspace whose traffic stops at known moments: the whole stream
stopping pages, one route stopping is a ticket, a route that never existed (or
went quiet before the lookback) is nothing; thresholds, look-back moments and the
reuse of readings; the profile's ``alerts:`` section."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.metrics.workspace import WorkspaceMetrics
from console.alerts import absence
from console.alerts.absence import AbsenceSettings
from console.core.config import load_config
from console.core.errors import ConfigError
from tests import traffic
from tests.conftest import FIXED_NOW

NOW = FIXED_NOW  # 12:00
START = NOW - timedelta(hours=6)
LIVE = NOW - timedelta(seconds=20)  # still flowing
B_STOP = NOW - timedelta(minutes=41, seconds=33)  # 11:18:27
STREAM_STOP = NOW - timedelta(minutes=49, seconds=30)  # 11:10:30
OLD = (NOW - timedelta(hours=40), NOW - timedelta(hours=30))  # before the 24 h lookback


def _metrics(tmp_path: Path, routes: dict[str, Any]) -> WorkspaceMetrics:
    traffic.workspace(tmp_path / "ws", routes)
    return WorkspaceMetrics(path=tmp_path / "ws" / "store.db")


@pytest.fixture
def one_route_stopped(tmp_path: Path) -> WorkspaceMetrics:
    return _metrics(
        tmp_path,
        {"/a": (START, LIVE), "/b": (START, B_STOP), "/old": OLD},
    )


@pytest.fixture
def stream_stopped(tmp_path: Path) -> WorkspaceMetrics:
    # /a and /c stop together; /b had stopped an hour before the rest.
    return _metrics(
        tmp_path,
        {
            "/a": (START, STREAM_STOP),
            "/c": (START, STREAM_STOP - timedelta(minutes=4)),
            "/b": (START, STREAM_STOP - timedelta(hours=1)),
        },
    )


def test_newest_is_the_last_request_to_the_second(one_route_stopped: WorkspaceMetrics) -> None:
    day = timedelta(hours=24)
    by_route = one_route_stopped.newest("requests", NOW, day, "route")
    # /old had data 30 h ago only: outside the lookback, not a route of today.
    assert by_route == {"/a": LIVE, "/b": B_STOP}
    assert one_route_stopped.newest("latency_p95", NOW, day) == {"": LIVE}
    # A look-back moment sees only what had arrived by then.
    then = B_STOP - timedelta(minutes=5)  # 11:13:27
    assert one_route_stopped.newest("requests", then, day, "route") == {
        "/a": then.replace(second=LIVE.second) - timedelta(minutes=1),  # 11:12:40
        "/b": then,  # a request every minute, one exactly at `then`
    }
    assert one_route_stopped.newest("requests", NOW, timedelta(hours=48), "route")["/old"] == OLD[1]
    with pytest.raises(ValueError, match="unknown signal"):
        one_route_stopped.newest("vibes", NOW, day)


def test_one_route_stopping_is_a_ticket_for_that_route(
    one_route_stopped: WorkspaceMetrics,
) -> None:
    alerts = absence.evaluate(one_route_stopped, NOW)
    assert [a.key for a in alerts] == ["absent:/b:requests"]
    (b,) = alerts
    assert (b.kind, b.severity, b.state) == ("absent", "ticket", "firing")
    assert b.title == "no data since 11:18 for requests on /b"
    assert b.labels == {"signal": "requests", "route": "/b"}
    assert b.onset == B_STOP + timedelta(minutes=10)
    assert b.observed == pytest.approx(41.55, abs=0.06) and b.objective == 10
    assert "11:18:27" in b.detail
    # A route that never existed, and one quiet since before the lookback, raise nothing.
    assert not any(a.route in ("/never", "/old") for a in alerts)


def test_whole_stream_stopping_pages_once(stream_stopped: WorkspaceMetrics) -> None:
    alerts = absence.evaluate(stream_stopped, NOW)
    assert [(a.key, a.severity) for a in alerts] == [
        ("absent:requests", "page"),
        ("absent:/b:requests", "ticket"),  # stopped an hour earlier: a cause of its own
    ]
    page = alerts[0]
    assert page.title == "no data since 11:10 for requests"
    assert page.labels == {"signal": "requests"}
    assert page.onset == STREAM_STOP + timedelta(minutes=10)
    # /a and /c stopped with the stream (within absent_after): folded into the page,
    # with the signals, instead of a dozen tickets for one cause.
    assert "routes /a, /c" in page.detail and "tokens_in" in page.detail
    assert alerts[1].title == "no data since 10:10 for requests on /b"


def test_threshold_and_lookback(one_route_stopped: WorkspaceMetrics) -> None:
    # 41 minutes of silence: absent after 10 minutes, not after an hour.
    assert absence.evaluate(one_route_stopped, NOW, AbsenceSettings(timedelta(hours=1))) == []
    at_40 = AbsenceSettings(timedelta(minutes=40))
    assert [a.key for a in absence.evaluate(one_route_stopped, NOW, at_40)] == [
        "absent:/b:requests"
    ]
    # With a 48 h lookback, /old (quiet for 30 h) is a route that stopped.
    long = AbsenceSettings(lookback=timedelta(hours=48))
    keys = [a.key for a in absence.evaluate(one_route_stopped, NOW, long)]
    assert keys == ["absent:/b:requests", "absent:/old:requests"]


def test_look_back_before_the_stop_sees_nothing_absent(
    one_route_stopped: WorkspaceMetrics,
) -> None:
    assert absence.evaluate(one_route_stopped, B_STOP + timedelta(minutes=9)) == []
    late = absence.evaluate(one_route_stopped, B_STOP + timedelta(minutes=11))
    assert [a.key for a in late] == ["absent:/b:requests"]
    assert late[0].observed == pytest.approx(11.0)


def test_freshness_for_panels_and_cards(stream_stopped: WorkspaceMetrics) -> None:
    fresh = absence.read(stream_stopped, NOW)
    assert fresh.stream == STREAM_STOP
    assert fresh.silent_since("latency_p99") == STREAM_STOP
    assert fresh.quiet(("latency_p50", "latency_p95")) == (
        STREAM_STOP,
        ("latency_p50", "latency_p95"),
    )
    # A 15 m window holds none of it, a 1 h window does (11:00-12:00).
    assert fresh.empty_since("requests", NOW - timedelta(minutes=15)) == STREAM_STOP
    assert fresh.empty_since("requests", NOW - timedelta(hours=1)) is None


class Counting(WorkspaceMetrics):
    """The real workspace source, counting the questions it is asked."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.asked = 0

    def newest(self, *args: Any, **kw: Any) -> Any:
        self.asked += 1
        return super().newest(*args, **kw)


def test_a_reading_is_reused_until_something_can_be_absent(tmp_path: Path) -> None:
    traffic.workspace(tmp_path / "ws", {"/a": (START, LIVE), "/b": (START, B_STOP)})
    m = Counting(path=tmp_path / "ws" / "store.db")
    early = B_STOP + timedelta(minutes=2)  # everything flowing
    absence.read(m, early)
    first = m.asked
    assert first > 0
    absence.read(m, early + timedelta(minutes=3))  # nothing can have become absent yet
    assert m.asked == first
    # /b can be absent from B_STOP + 10 min on: from then every call asks again,
    # so a recovery shows on the next refresh.
    assert absence.evaluate(m, B_STOP + timedelta(minutes=11))
    second = m.asked
    assert second > first
    absence.evaluate(m, B_STOP + timedelta(minutes=11))
    assert m.asked > second
    # A look-back to an earlier moment never reuses a later reading.
    before = m.asked
    absence.read(m, early)
    assert m.asked > before


def test_newest_reads_indexes_not_the_table(one_route_stopped: WorkspaceMetrics) -> None:
    from connectors.metrics.workspace import _NEWEST_OF

    conn = one_route_stopped._conn()
    for group, sql in _NEWEST_OF.items():
        plan = " ".join(
            str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (1,) * sql.count("?"))
        )
        assert "USING" in plan and "INDEX" in plan, (group, plan)
        assert "SCAN" not in plan, (group, plan)


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ("{absent_after: soon}", r"llmdeck.yaml:8: profiles.w.alerts.absent_after: bad window"),
        ("{absent_afer: 10m}", r"alerts.absent_afer: unknown key \(known: .*absent_lookback"),
        ("{absent_after: 2d}", r"alerts.absent_lookback: must be longer than absent_after"),
        ("{absent_lookback: -5m}", r"alerts.absent_lookback: bad window '-5m': must be positive"),
    ],
)
def test_bad_alert_settings_name_file_line_and_key(
    tmp_path: Path, alerts: str, message: str
) -> None:
    cfg = traffic.workspace(tmp_path / "ws", {}, alerts=alerts)
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)


def test_alert_settings_from_the_profile(tmp_path: Path) -> None:
    cfg = traffic.workspace(tmp_path / "ws", {}, alerts="{absent_after: 30m, absent_lookback: 3d}")
    got = AbsenceSettings.from_settings(load_config(cfg).profile("w").settings)
    assert got == AbsenceSettings(timedelta(minutes=30), timedelta(days=3))
    assert AbsenceSettings.from_settings({}) == AbsenceSettings(
        timedelta(minutes=10), timedelta(hours=24)
    )
    with pytest.raises(ConfigError, match="absent_after"):
        AbsenceSettings.from_settings({"alerts": {"absent_after": "soon"}})
