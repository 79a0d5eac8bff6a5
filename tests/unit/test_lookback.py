"""Look back: ``--at TIME`` and the session's view time (console/core/viewtime.py).

The demo's incident: support-answer v14 went out as a canary CANARY_AGO (3 h)
before the end of its history (FIXED_NOW), and refuses about four times as
often as v13. Pinned before the canary, every reading command must show the
fleet as it was then; every write must refuse --at.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.cli import _glue_at, main
from console.core import clock
from console.core.session import Session
from console.core.spans import RANGES
from console.core.viewtime import ViewTime, ViewTimeError, parse_at
from console.demo.world import CANARY_AGO
from tests.conftest import FIXED_NOW, demo_profile

ROOT = Path(__file__).resolve().parents[2]
NOW = FIXED_NOW
CANARY = FIXED_NOW - CANARY_AGO
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WORDS = {"seconds": 1, "minute": 60, "minutes": 60, "hours": 3600, "day": 86400, "weeks": 604800}


# -- TIME ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-11-29T03:10", datetime(2026, 11, 29, 3, 10, tzinfo=UTC)),  # naive: UTC
        ("2026-11-29T03:10Z", datetime(2026, 11, 29, 3, 10, tzinfo=UTC)),
        ("2026-11-29T03:10:30z", datetime(2026, 11, 29, 3, 10, 30, tzinfo=UTC)),
        ("2026-11-29T05:10+02:00", datetime(2026, 11, 29, 3, 10, tzinfo=UTC)),
        ("2026-11-28T22:10-05:00", datetime(2026, 11, 29, 3, 10, tzinfo=UTC)),
        ("2026-11-29 03:10", datetime(2026, 11, 29, 3, 10, tzinfo=UTC)),
        ("2026-11-28", datetime(2026, 11, 28, tzinfo=UTC)),
        ("03:10", datetime(2026, 11, 29, 3, 10, tzinfo=UTC)),  # today, UTC
        ("12:00", NOW),  # now itself is not the future
        ("13:05", datetime(2026, 11, 28, 13, 5, tzinfo=UTC)),  # still to come: yesterday's
        ("3:10:05", datetime(2026, 11, 29, 3, 10, 5, tzinfo=UTC)),
        ("-2h", NOW - timedelta(hours=2)),
        ("2h ago", NOW - timedelta(hours=2)),
        (" - 90 min ", NOW - timedelta(minutes=90)),
        ("1.5 hours ago", NOW - timedelta(minutes=90)),
        ("-0m", NOW),
    ],
)
def test_times_that_parse(text: str, want: datetime) -> None:
    assert parse_at(text, NOW) == want


@given(
    n=st.integers(min_value=0, max_value=5_000),  # 5,000 weeks: inside MAX_BACK
    unit=st.sampled_from(sorted(UNITS)),
    word=st.sampled_from(sorted(WORDS)),
    spaces=st.sampled_from(["", " ", "  "]),
)
def test_relative_forms_agree(n: int, unit: str, word: str, spaces: str) -> None:
    back = NOW - timedelta(seconds=n * UNITS[unit])
    assert parse_at(f"-{spaces}{n}{spaces}{unit}", NOW) == back
    assert parse_at(f"{n}{unit} ago", NOW) == back
    assert parse_at(f"{n}{spaces}{unit.upper()} AGO", NOW) == back
    assert parse_at(f"{n} {word} ago", NOW) == NOW - timedelta(seconds=n * WORDS[word])
    assert parse_at(f"-{n}{unit}", NOW) <= NOW  # a relative time is never in the future


@given(st.text(max_size=60))
def test_anything_else_is_one_clear_line_or_a_past_time(text: str) -> None:
    try:
        at = parse_at(text, NOW)
    except ViewTimeError as exc:
        message = str(exc)
        assert message.startswith("--at") and "\n" not in message
        assert len(message) < 200
    else:
        assert at.tzinfo is not None and at <= NOW


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("2026-11-29T12:00:01", "in the future"),
        ("2027-01-01", "in the future"),
        ("2026-11-29T13:00+00:00", "in the future"),
        ("2h", "not a time"),  # no sign, no "ago": ambiguous, refused
        ("+2h", "not a time"),
        ("yesterday", "not a time"),
        ("-2 fortnights", "unknown unit"),
        ("25:00", "not a time of day"),
        ("-99999999d", "too far back"),
        ("", "empty time"),
    ],
)
def test_times_refused(text: str, said: str) -> None:
    with pytest.raises(ViewTimeError, match=said):
        parse_at(text, NOW)


def test_at_with_a_dash_is_read_as_its_value() -> None:
    # argparse takes "-2h" for an option: the CLI glues it to --at first.
    assert _glue_at(["--at", "-2h", "metrics", "--at", "-1h"]) == [
        "--at=-2h",
        "metrics",
        "--at=-1h",
    ]
    assert _glue_at(["requests", "--", "--at", "x"]) == ["requests", "--", "--at", "x"]


# -- the view time -----------------------------------------------------------------


def test_step_moves_the_window_by_its_span_and_reaches_live(frozen_clock: datetime) -> None:
    view = ViewTime()
    rng = RANGES["6h"]
    assert not view.pinned and view.window(rng) == (NOW - rng.span, NOW)
    view.step(rng.span, -1)
    assert view.at == NOW - rng.span
    assert view.window(rng) == (NOW - 2 * rng.span, NOW - rng.span)  # edge to edge
    assert view.label() == "AT 2026-11-29 06:00 UTC (pinned)"
    view.step(rng.span, -1)
    view.step(rng.span, 1)
    assert view.at == NOW - rng.span
    view.step(rng.span, 1)  # reaches now: there is no pinned future
    assert not view.pinned and view.label() == ""
    view.step(rng.span, 1)
    assert not view.pinned
    with pytest.raises(ViewTimeError, match="in the future"):
        view.pin(NOW + timedelta(seconds=1))
    assert not view.pinned  # a refused pin leaves the view as it was


def test_pinned_view_is_not_the_wall_clock(frozen_clock: datetime) -> None:
    view = ViewTime(NOW - timedelta(hours=2))
    clock.freeze(NOW + timedelta(minutes=5))  # time goes on; the pinned past does not
    try:
        assert view.now() == NOW - timedelta(hours=2)
        assert view.label() == "AT 2026-11-29 10:00 UTC (pinned)"
        view.go_live()
        assert view.now() == NOW + timedelta(minutes=5)
    finally:
        clock.freeze(NOW)


def test_session_view_moves_every_read_window(demo_dir: Path, frozen_clock: datetime) -> None:
    from console.overview import kpis
    from console.overview.panels import load_panels

    session = Session(demo_profile(demo_dir), at=CANARY)
    try:
        k = kpis.load(session, RANGES["1h"])
        assert (k.start, k.end) == (CANARY - timedelta(hours=1), CANARY)
        panel = load_panels(session, RANGES["1h"], "none")["rates"]
        assert panel.queried == CANARY
        last = max(t for ln in panel.lines for t, _ in ln.points)
        assert last < CANARY.timestamp()
        session.view.step(RANGES["1h"].span, -1)
        assert kpis.load(session, RANGES["1h"]).end == CANARY - timedelta(hours=1)
    finally:
        session.close()


def test_no_read_asks_for_a_window_without_saying_when() -> None:
    """``rng.window()`` ends at the wall clock's now: a read that calls it ignores
    a pinned view. Reads ask ``session.view.window(rng)``; a write that means now
    says so with ``rng.window(clock.now())``."""
    found = []
    for path in [*(ROOT / "console").rglob("*.py"), *(ROOT / "screens").rglob("*.py")]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.window\(\)", line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


# -- commands ----------------------------------------------------------------------


def _runner(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> object:
    monkeypatch.setenv("LLMDECK_FROZEN_TIME", FIXED_NOW.isoformat())
    config = str(workspace / "llmdeck.yaml")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config", config, *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def cli(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> object:
    """``llmdeck`` on the shared demo workspace: for commands that only read it."""
    return _runner(demo_dir, monkeypatch, capsys)


@pytest.fixture
def cli_copy(
    demo_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> object:
    """On a private copy: ``registry list`` snapshots the alias maps it reads."""
    return _runner(demo_copy, monkeypatch, capsys)


def test_metrics_at_shows_the_refusal_rate_before_the_canary(cli: object) -> None:
    run = cli  # type: ignore[assignment]
    code, out, err = run("metrics", "--json")
    assert code == 0, err
    live = json.loads(out)
    # The same moment three ways: relative, ISO with an offset, and before the command.
    for args in (
        ("metrics", "--at", "-3h", "--json"),
        ("metrics", "--json", "--at", "2026-11-29T10:00+01:00"),
        ("--at", "3 hours ago", "metrics", "--json"),
    ):
        code, out, err = run(*args)
        assert code == 0, err
        past = json.loads(out)
        assert past["end"] == CANARY.isoformat()
        assert past["start"] == (CANARY - timedelta(hours=1)).isoformat()
        # v14 had not gone out yet: about a quarter of today's refusals.
        assert past["kpis"]["refusal_rate"] < 0.6 * live["kpis"]["refusal_rate"]
        changes = [*past["changes"], *past["changes_before_range"]]
        assert changes and not any("canary support-answer v14" in c["what"] for c in changes)
        assert all(
            t < CANARY.timestamp()
            for p in past["panels"].values()
            for s in p["series"]
            for t, _ in s["points"]
        )
    # Live at 1 h, the canary is the latest change before the range; pinned, it has not happened.
    assert any("canary support-answer v14" in c["what"] for c in live["changes_before_range"])


@pytest.mark.parametrize(
    "args",
    [
        ("flags", "set", "support-answer-rollout", "off", "--reason", "x"),
        ("rollback", "/support/chat", "--reason", "x"),
        ("replay", "req_0"),
        ("replay-batch", "--limit", "1"),
        ("ingest", "/dev/null"),
        ("secrets", "set", "x"),
        ("alerts", "ack", "refusal"),
        ("silence", "--matcher", "route=/support/chat"),
        ("incident", "open", "--title", "refusals up", "--severity", "sev2"),
    ],
)
def test_writes_refuse_at_and_change_nothing(
    cli: object, demo_dir: Path, args: tuple[str, ...]
) -> None:
    run = cli  # type: ignore[assignment]
    db = sqlite3.connect(demo_dir / "store.db")
    before = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    for where in ([*args, "--at", "-1h"], ["--at", "-1h", *args]):
        code, out, err = run(*where)
        assert (code, out) == (2, "")
        assert err == "llmdeck: --at is for reading; writes happen now\n"
    assert db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == before
    db.close()


def test_a_command_that_does_not_read_the_past_says_so(cli: object) -> None:
    run = cli  # type: ignore[assignment]
    assert run("doctor", "--at", "-1h") == (2, "", "llmdeck: --at does not apply to doctor\n")
    # An incident's record spans its own window; it is not read "as of" a moment.
    code, _, err = run("incident", "show", "1", "--at", "-1h")
    assert (code, err) == (2, "llmdeck: --at does not apply to incident show\n")
    code, _, err = run("metrics", "--at", "2026-11-29T12:30")
    assert code == 2 and "in the future" in err and err.count("\n") == 1


def test_requests_at_lists_nothing_logged_after_it(cli: object) -> None:
    run = cli  # type: ignore[assignment]
    code, out, err = run("--at", "09:00", "requests", "--since", "30m", "--limit", "5000", "--json")
    assert code == 0, err
    rows = json.loads(out)
    stamps = [datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) for r in rows]
    assert rows and all(CANARY - timedelta(minutes=30) <= t < CANARY for t in stamps)
    assert max(stamps) > CANARY - timedelta(minutes=2)  # the window reaches the pinned moment
    assert not any(r["prompt_version"] == "14" for r in rows)  # v14 was not serving yet


def test_audit_and_flags_at_show_the_trail_and_states_of_then(cli: object) -> None:
    run = cli  # type: ignore[assignment]
    code, out, _ = run("audit", "--json")
    live = json.loads(out)
    code, out, err = run("audit", "--json", "--at", "08:59")
    assert code == 0, err
    past = json.loads(out)
    assert past and len(past) < len(live)
    assert all(r["ts"] < "2026-11-29T08:59" for r in past)
    code, out, err = run("flags", "list", "--json", "--at", "08:59")
    assert code == 0, err
    flag = next(f for f in json.loads(out)["flags"] if f["key"] == "support-answer-rollout")
    assert flag["state_at"]["weights"] == "v13 100% v14 0%"
    assert flag["state_at"]["recorded_at"] < CANARY.isoformat()
    code, out, _ = run("flags", "list", "--json", "--at", "09:01")
    flag = next(f for f in json.loads(out)["flags"] if f["key"] == "support-answer-rollout")
    assert flag["state_at"]["weights"] == "v13 50% v14 50%"


def test_registry_show_at_hides_what_came_later(cli_copy: object) -> None:
    run = cli_copy  # type: ignore[assignment]
    code, out, err = run("registry", "show", "support-answer", "--json", "--at", "06:59")
    assert code == 0, err
    assert [v["version"] for v in json.loads(out)["versions"]] == ["11", "12", "13"]
    code, out, err = run("registry", "show", "support-answer", "--json", "--at", "08:59")
    past = json.loads(out)
    aliases = {v["version"]: v["aliases"] for v in past["versions"]}
    assert aliases["14"] == [] and aliases["13"] == ["production"]  # made 07:00, canary 09:00
    assert all(m["ts"] < "2026-11-29T08:59" for m in past["alias_history"])
    assert not any(m["alias"] == "canary" for m in past["alias_history"])
    code, out, _ = run("registry", "show", "support-answer", "--json")
    assert any(m["alias"] == "canary" for m in json.loads(out)["alias_history"])
    code, out, _ = run("registry", "list", "--json", "--at", "08:59")
    listing = json.loads(out)
    entry = next(e for e in listing["entries"] if e["name"] == "support-answer")
    assert "canary" not in entry["aliases"] and listing["as_of"] == "2026-11-29T08:59:00Z"


def test_drift_at_compares_the_windows_before_it(cli: object) -> None:
    run = cli  # type: ignore[assignment]
    code, out, err = run("drift", "--json", "--all", "--at", "-3h")
    assert code == 0, err
    report = json.loads(out)
    assert report["current"][1] == CANARY.isoformat()
    assert not any(r["group"] == "support-answer@14" for r in report["rows"])


def test_the_pipeline_refuses_a_write_from_a_pinned_session(
    demo_copy: Path, frozen_clock: datetime
) -> None:
    """The backstop under the CLI's and the screens' own refusals: audited."""
    from console.actions import Confirmation, Pipeline, SetEnabled

    session = Session(demo_profile(demo_copy), at=NOW - timedelta(hours=1))
    try:
        pipeline = Pipeline(session)
        plan = pipeline.plan(SetEnabled("support-answer-rollout", False))
        outcome = pipeline.execute(plan, Confirmation(True, reason="test"))
        assert outcome.status == "refused"
        assert "writes happen now" in outcome.message
        audited = (
            session.store()
            .execute("SELECT outcome, ts FROM audit ORDER BY id DESC LIMIT 1")
            .fetchone()
        )
        assert audited == ("refused", int(NOW.timestamp() * 1000))  # at the wall clock's now
    finally:
        session.close()
    flags = json.loads((demo_copy / "flags.json").read_text())
    assert flags["flags"]["support-answer-rollout"]["state"] == "ENABLED"  # untouched


# -- the series cache --------------------------------------------------------------


def test_a_window_pinned_inside_a_live_one_is_served_from_the_cache(demo_dir: Path) -> None:
    """``[`` after a live load: the window lies in what is final already. No query
    that starts after its end (Prometheus refuses one), the figures of a direct one."""
    from connectors.metrics.workspace import WorkspaceMetrics
    from console.core.series_cache import CachedMetrics

    raw = WorkspaceMetrics(path=demo_dir / "store.db")
    cached = CachedMetrics(raw)
    cached.series("refusal_rate", NOW - timedelta(hours=6), NOW, 60)  # the SLO's 6 h window
    asked: list[tuple[datetime, datetime]] = []
    inner_series = raw.series

    def spy(signal: str, start: datetime, end: datetime, *a: object) -> object:
        asked.append((start, end))
        return inner_series(signal, start, end, *a)  # type: ignore[arg-type]

    raw.series = spy  # type: ignore[method-assign]
    for end in (NOW - timedelta(hours=1), NOW - timedelta(hours=2, seconds=17)):
        got = cached.series("refusal_rate", end - timedelta(hours=1), end, 60)
        aligned = end - timedelta(hours=1)
        aligned -= timedelta(seconds=int(aligned.timestamp()) % 60)
        want = inner_series("refusal_rate", aligned, end, 60)
        assert [s.labels for s in got] == [s.labels for s in want]
        for g, w in zip(got, want, strict=True):
            assert [t for t, _ in g.points] == [t for t, _ in w.points]
            assert all(
                (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)
                for (_, a), (_, b) in zip(g.points, w.points, strict=True)
            )
    assert all(start < end for start, end in asked)
    assert len(asked) == 1  # only the last minute that the second end cuts


def test_alerts_at_judges_then_and_records_nothing(cli_copy: object, demo_copy: Path) -> None:
    """The alert engine as of the pinned moment: before the canary nothing fires,
    after it the refusal page does; a look back writes no alert lifecycle (the
    transitions are the live evaluation's to record)."""
    run = cli_copy  # type: ignore[assignment]
    db = sqlite3.connect(demo_copy / "store.db")

    def events() -> int:
        return int(db.execute("SELECT COUNT(*) FROM alert_events").fetchone()[0])

    # The shared demo may hold transitions already: any console shown on it
    # records them (the banner is a live evaluation).
    before = events()
    code, out, err = run("alerts", "--json", "--at", "08:59")
    assert (code, json.loads(out)) == (0, []), err
    code, out, err = run("alerts", "--json", "--at", "10:30")
    assert code == 1, err  # a page fires at 10:30
    page = next(a for a in json.loads(out) if a["severity"] == "page")
    assert page["state"] == "firing" and "/support/chat" in page["title"]
    assert page["onset"] < "2026-11-29T10:30"
    assert events() == before
    db.execute("DELETE FROM alert_events")
    db.commit()
    code, _, err = run("alerts", "--json")
    assert code == 1, err
    assert events() > 0  # live, the transitions are recorded
    db.close()
