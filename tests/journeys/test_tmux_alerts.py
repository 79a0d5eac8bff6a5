"""The incident journey of the alerts issue in a real terminal (tmux):
the page and its suspect on the first screen without a key, the rollback from
the suspect, the alert resolving by itself under live traffic, and the
incident exported as a postmortem draft."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.journeys.tmux import ROOT, Pane, kill_server

Deck = Callable[..., Pane]
BANNER_PAGE = re.compile(r"▲ \d+ FIRING \(1 page\)\s+PAGE: refusals burning [\d.]+x the budget")


@pytest.fixture(scope="module", autouse=True)
def _tmux_server() -> Iterator[None]:
    yield
    kill_server()


def _quit(pane: Pane) -> None:
    status = pane.quit_and_wait()
    assert status in (0, None), pane.text()  # None: tmux recorded no status
    assert "Traceback" not in pane.text()


def test_the_page_and_its_suspect_without_a_key(deck: Deck) -> None:
    pane = deck()
    # The banner and the KPI cards load in their own workers: wait for both.
    screen = pane.wait_for(
        lambda s: "suspect: v14 rollout" in s and "refusals PAGE" in s, timeout=90
    )
    assert BANNER_PAGE.search(screen), screen
    assert "/support/chat (support-answer v14) since 09:02" in screen


def test_rollback_from_the_suspect_then_the_alert_resolves_live(
    deck: Deck, demo_copy: Path
) -> None:
    """Live traffic and the real clock: the demo appends requests every second and
    follows the flag file, so v14 stops receiving traffic once rolled back.

    The profile shortens the page windows to 10 m / 1 m (they are configurable;
    the default 1 h / 5 m would make this test wait five minutes for the same
    mechanism) and pages without a pending time.
    """
    config = demo_copy / "llmdeck.yaml"
    text = config.read_text()
    assert "    slos:\n" in text
    config.write_text(
        text.replace(
            "    slos:\n",
            "    alerts: {page: [[10m, 1m, 14.4]], for: 1s, keep_firing_for: 1s}\n    slos:\n",
            1,
        )
    )
    pane = deck("demo", "--dir", str(demo_copy), "--no-model", frozen=False)
    pane.wait_for(BANNER_PAGE, timeout=120)
    pane.send("9")
    pane.wait_for(re.compile(r"firing\s+page\s+\S+ \S+\s+-\s+refusals burning"), timeout=60)
    pane.wait_for("What changed before", timeout=60)
    pane.send("b")
    # The suspect is the rollout (the flag change, or v14 entering the traffic when
    # the change itself lies before the replayed gap): either plan routes v14 to 0%.
    screen = pane.wait_for("Confirm:", timeout=60)
    assert "v13 100% v14 0%" in screen, screen
    pane.type("v14 refuses a third of requests")
    pane.send("Tab", "Enter")
    pane.wait_gone("Confirm:", timeout=30)
    # v14 gets no more traffic: its 1 m window empties and the page ends by itself.
    resolved = re.compile(r"resolved\s+page\s+")
    screen = pane.wait_for(
        lambda s: resolved.search(s) is not None and not BANNER_PAGE.search(s), timeout=240
    )
    assert "no alerts firing" in screen or "FIRING  TICKET" in screen, screen
    pane.send("7")  # and the rollback is in the Audit screen (its reason is checked below)
    pane.wait_for(re.compile(r"done\s+\S+\s+(set_weights|rollback_route)"), timeout=60)
    _quit(pane)
    audit = subprocess.run(
        [sys.executable, "-m", "console", "--config", str(config), "audit", "--json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert re.search(r'"action": "(set_weights|rollback_route)"', audit.stdout), audit.stdout
    assert "v14 refuses a third of requests" in audit.stdout


def test_incident_opened_noted_and_exported(deck: Deck, demo_copy: Path) -> None:
    pane = deck()
    pane.wait_for(BANNER_PAGE, timeout=90)
    pane.send("I")
    pane.wait_for("Open an incident", timeout=30)
    pane.type("Refusals up on /support/chat")
    pane.send("Enter")
    pane.wait_for("INC-1 open", timeout=30)
    pane.send("n")
    pane.wait_for("Note on", timeout=30)
    pane.type("canary v14 suspected")
    pane.send("Enter")
    pane.wait_for("note added to INC-1", timeout=30)
    _quit(pane)
    out = subprocess.run(
        [sys.executable, "-m", "console", "--config", str(demo_copy / "llmdeck.yaml"),
         "incident", "export", "1", "--format", "md"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={"LLMDECK_FROZEN_TIME": "2026-11-29T12:00:00+00:00", "PATH": "/usr/bin:/bin",
             "HOME": str(demo_copy)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    md = out.stdout
    assert md.startswith("# Incident 1: Refusals up on /support/chat")
    assert "canary v14 suspected" in md
    assert "refusals burning" in md  # the alert's transitions are on the timeline
