"""Journeys in a real terminal: ``llmdeck`` in a tmux pane, keys sent as a user
types them, the screen read back (tests/journeys/tmux.py).

The clock is frozen at the demo's end (FIXED_NOW) so the figures are those of
the incident: support-answer v14 on canary since 09:00, refusals up 4x.

Each journey here failed in a real terminal before its issue 17 fix (defects
1, 8 and 9): a screen switched to was not painted until a resize, ctrl+p and
esc did nothing, small terminals drew empty charts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.journeys.tmux import Pane, kill_server

Deck = Callable[..., Pane]

# The Overview's caption once the KPIs loaded ("last 1h · ... · 2,274 requests").
KPIS_LOADED = re.compile(r"last \w+ · group by \w+ · [\d,]+ requests")
CHARTS_LOADED = "min before 12:00"  # the x-axis caption of every chart at the 1 h range


@pytest.fixture(scope="module", autouse=True)
def _tmux_server() -> Iterator[None]:
    yield
    kill_server()  # the private server of this run (its sessions are killed per test)


def header(title: str) -> re.Pattern[str]:
    """The header line of screen ``title`` (first line of the pane)."""
    return re.compile(rf"\A\s*llmdeck\s+{re.escape(title)}\s+│ profile demo")


# -- the first screen ----------------------------------------------------------------


def test_first_screen_shows_the_incident(deck: Deck) -> None:
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    pane.wait_for(CHARTS_LOADED)
    # The refusal KPI (its card says the page in words) and the burning refusal
    # SLO of the incident route; the SLO panel and the banner load after the
    # charts, later still on a loaded machine: waited for, not assumed.
    card = re.compile(r"\d+\.\d%.*\n.*refusals PAGE")
    screen = pane.wait_for(
        lambda s: (
            card.search(s) is not None and "/support/chat refusal_rate" in s and "burning" in s
        ),
        timeout=90,
    )
    assert header("Overview").search(screen)


def test_q_quits_cleanly(deck: Deck) -> None:
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    status = pane.quit_and_wait()
    assert status in (0, None), pane.text()  # None: tmux recorded no status (see quit_and_wait)
    assert "Traceback" not in pane.text()


def test_at_opens_pinned_and_brackets_step_in_a_real_terminal(deck: Deck) -> None:
    """The postmortem: ``llmdeck --at 09:00`` shows the hour before the canary,
    ``[`` the hour before that, ``L`` today again; the header says which."""
    pane = deck("--at", "09:00")
    screen = pane.wait_for("min before 09:00")  # the charts end at the pinned moment
    assert "AT 2026-11-29 09:00 UTC (pinned)" in screen.splitlines()[0]
    assert "08:00-09:00 UTC" in screen and "updated" not in screen
    assert "/support/chat refusal_rate" in screen
    pane.send("[")
    screen = pane.wait_for("07:00-08:00 UTC")
    assert "AT 2026-11-29 08:00 UTC (pinned)" in screen.splitlines()[0]
    pane.send("L")
    screen = pane.wait_for("updated 12:00:00")
    assert "AT " not in screen.splitlines()[0]
    assert header("Overview").search(screen)


# -- the on-call journey of DESIGN.md -------------------------------------------------


def test_oncall_sees_the_incident_and_diffs_v13_v14(deck: Deck) -> None:
    """See it, explain it: the part of the journey that stays on one screen stack."""
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    pane.send("d")  # diff the newest prompt version in traffic against its predecessor
    screen = pane.wait_for("v13 [production] → v14 [canary]")
    assert header("Diff").search(screen)
    assert re.search(r"refusal rate \(24h\)\s+0\.\d%\s+2\d\.\d%", screen), screen
    assert "Refuse anything not" in screen  # v14's new instruction, on the right


def test_oncall_journey_end_to_end(deck: Deck) -> None:
    """See, explain, read a refusal, roll back with the confirmation, see it audited.

    Replay is its own test (it needs the local model); "watch it recover" needs
    live traffic and a moving clock, which this frozen demo has not (partial).
    """
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    pane.send("d")
    pane.wait_for("v13 [production] → v14 [canary]")
    pane.send("Escape")
    pane.wait_for(header("Overview"))

    pane.send("3")
    pane.wait_for(header("Requests"), timeout=20)
    pane.wait_for("req_")
    pane.send("f")  # refusals only
    pane.wait_for(re.compile(r"filter: refusal.*\n(.*\n)*.*req_\w+ .*refusal"))
    pane.wait_for(" loaded, ")  # the filtered page is in: Enter opens one of its rows
    screen = pane.open_selected("REFUSAL")
    assert "support-answer@v14" in screen
    pane.send("Escape")
    pane.wait_for(header("Requests"))

    pane.send("6")
    pane.wait_for("support-answer-rollout  on     v13 50% v14 50%", timeout=20)
    pane.send("Down", "Down", "Down", "b")  # the support-answer rollout: roll back its route
    screen = pane.wait_for("Confirm: roll back /support/chat")
    assert "last known good is v13" in screen
    assert "blast radius" in screen
    pane.type("refusals up since v14")
    pane.send("Enter")
    # The plan in the modal shows the new weights too: wait for the modal to go
    # and the table row to change, or "7" lands in the reason field.
    pane.wait_gone("Confirm: roll back /support/chat", timeout=20)
    pane.wait_for("support-answer-rollout  on     v13 100% v14 0%", timeout=20)

    pane.send("7")
    screen = pane.wait_for("rollback_route", timeout=20)
    assert re.search(r"done\s+\S+\s+rollback_route\s+/support/chat", screen)


def test_oncall_replays_a_refusal_on_the_local_model(
    deck: Deck,
    demo_copy: Path,
    llama_url: str,
) -> None:
    """Reproduce it: replay one logged refusal on the real local model."""
    config = demo_copy / "llmdeck.yaml"
    # The profile names the demo's own model port; point it at the test server.
    text, n = re.subn(r"http://127\.0\.0\.1:\d+/v1", llama_url, config.read_text())
    assert n, "the demo profile names no local replay target"
    config.write_text(text)
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    pane.send("3")
    pane.wait_for(header("Requests"), timeout=20)
    pane.send("f")
    pane.wait_for(re.compile(r"filter: refusal.*\n(.*\n)*.*req_\w+ .*refusal"))
    pane.wait_for(" loaded, ")  # the filtered page is in: Enter opens one of its rows
    pane.open_selected("REFUSAL")
    pane.send("r")
    screen = pane.wait_for(re.compile(r"identical|similar|different"), timeout=120)
    assert "smollm2" in screen


# -- keys ---------------------------------------------------------------------------

SCREEN_TITLES = ["Overview", "Drift", "Requests", "Registry", "Diff", "Flags", "Audit", "Replays"]


def test_every_number_key_and_back_with_esc(deck: Deck) -> None:
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    for key, title in enumerate(SCREEN_TITLES[1:], start=2):
        pane.send(str(key))
        pane.wait_for(header(title), timeout=20)
        # Wait for the screen before the next key: an Escape followed at once by
        # a key reaches the program as one alt+key sequence.
        pane.send("Escape")
        pane.wait_for(header("Overview"), timeout=20)
    pane.send("1")
    pane.wait_for(header("Overview"))


def test_palette_opens_with_colon(deck: Deck) -> None:
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    pane.send(":")
    screen = pane.wait_for("Search for commands")
    assert "Flags (6)" in screen and "Audit (7)" in screen
    pane.send("Escape")
    pane.wait_gone("Search for commands")


def test_palette_opens_with_ctrl_p(deck: Deck) -> None:
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    pane.send("C-p")
    pane.wait_for("Search for commands", timeout=10)


def test_read_only_offers_no_write_keys(deck: Deck) -> None:
    pane = deck("--read-only")
    screen = pane.wait_for(KPIS_LOADED)
    assert "READ-ONLY" in screen.splitlines()[0]
    pane.send("6")
    # Defect 1: the Flags screen is painted only after a resize. Nudge the size
    # so this test checks read-only today; the number-key test covers the paint.
    pane.resize(pane.width + 1, pane.height)
    pane.resize(pane.width - 1, pane.height)
    screen = pane.wait_for("support-answer-rollout")
    footer = screen.rstrip().splitlines()[-1]
    for write_key in ("Toggle", "Kill switch", "Weights", "Roll back"):
        assert write_key not in footer, footer
    pane.send("Down", "Down", "Down", "b")  # the key does nothing: no confirmation opens
    pane.send("r")  # and a key that answers, so the wait below has something to wait for
    screen = pane.wait_for(header("Flags"))
    assert "Confirm" not in screen


# -- terminal sizes -------------------------------------------------------------------


def test_80x24_overview_shows_charts_and_whole_labels(deck: Deck) -> None:
    """Defect 9: at 80x24 the charts were empty boxes and the KPI labels cut."""
    pane = deck(size=(80, 24))
    pane.wait_for(KPIS_LOADED)
    screen = pane.wait_for(CHARTS_LOADED)
    assert screen.count(CHARTS_LOADED) == 2  # two charts, large enough for their axes
    for label in ("req/min", "p95 latency", "safety blocks", "refusals", "cost/hour"):
        assert label in screen, label
    assert "profile demo │ development │ read-write" in screen.splitlines()[0]
    assert "changes" in screen and "SLOs" in screen


def test_100x30_chart_axis_labels_do_not_overlap(deck: Deck) -> None:
    """Defect 9: at 100x30 the y-axis labels ran into the x-axis ticks ("111928.5-60")."""
    pane = deck(size=(100, 30))
    pane.wait_for(KPIS_LOADED)
    screen = pane.wait_for(CHARTS_LOADED)
    assert not re.search(r"\d-60", screen), screen


def test_220x60_overview_shows_every_panel(deck: Deck) -> None:
    pane = deck(size=(220, 60))
    pane.wait_for(KPIS_LOADED)
    screen = pane.wait_for(lambda s: s.count(CHARTS_LOADED) == 6)
    for title in ("tokens per minute", "cost per hour", "refusal rate by group", "budgets today"):
        assert title in screen, title


def test_40x10_says_terminal_too_small_and_recovers(deck: Deck) -> None:
    pane = deck(size=(40, 10))
    screen = pane.wait_for("terminal too small")
    assert "need 80x24" in screen.replace("\n", " ")
    # Keys typed while too small are swallowed: the Pilot test
    # (test_below_80x24_says_too_small_and_recovers) checks that deterministically;
    # here a key can reach the program after the resize below (seen in CI).
    pane.resize(160, 48)
    pane.wait_for(KPIS_LOADED)
    screen = pane.wait_for(header("Overview"))
    assert "terminal too small" not in screen
    # The wide layout is back (KPI cards as boxes), not the compact one the
    # screen kept when its classes changed under the message.
    pane.wait_for(re.compile(r"\A.*\n.*\n ╭─+╮\s*╭"))  # header, alert banner, cards


# -- bad input ----------------------------------------------------------------------


def test_unknown_keys_change_nothing(deck: Deck) -> None:
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    for key in ("z", "F12", "C-x", "~", "M-a", "PageDown", "é", "Tab", "BTab"):
        pane.send(key)
    pane.send("?")  # a key that answers: the help opens
    screen = pane.wait_for("Keys: Overview")
    assert not pane.dead()
    assert "Traceback" not in screen


def test_resize_in_the_middle_of_a_load(deck: Deck) -> None:
    pane = deck()
    pane.wait_for(KPIS_LOADED)
    pane.send("t")  # 1 h -> 6 h: the KPIs and charts reload
    pane.resize(90, 26)
    pane.resize(160, 48)
    pane.resize(120, 40)
    screen = pane.wait_for(re.compile(r"last 6h · group by none · [\d,]+ requests"))
    assert not pane.dead()
    assert "Traceback" not in screen
    pane.wait_for("h before 12:00")
