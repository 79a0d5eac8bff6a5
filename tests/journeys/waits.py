"""Waiting in Pilot tests: for conditions, never for time.

``App.workers.wait_for_complete()`` re-raises a failed worker's error as
``WorkerFailed`` when that worker is still listed by the time it is called
(issue 17 defect 13: on a loaded machine it is, on an idle one it has already
been removed). The app handles worker errors itself (screens/poller.py, the
app's ``on_worker_state_changed``), so a test waiting for workers must not turn
a handled error into a failure: ``settle`` waits and swallows them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.worker import WorkerState

# Generous: a full run on 2 shared cores has taken 20 s for one demo query.
TIMEOUT_S = 60.0


async def settle(pilot: Any, rounds: int = 2) -> None:
    """Let the workers running now finish (failed or not) and the screen repaint.

    ``rounds`` > 1 also covers work started by a finished worker (a listing
    that starts its detail load).
    """
    for _ in range(rounds):
        running = [w for w in pilot.app.workers if w.state != WorkerState.PENDING]
        # return_exceptions: a handled worker error is the app's business, not the test's.
        await asyncio.gather(*(w.wait() for w in running), return_exceptions=True)
        await pilot.pause()
    await _alert_banner(pilot)


async def _alert_banner(pilot: Any) -> None:
    """Every screen shows the alert banner: wait for its first evaluation, so a
    snapshot never catches "evaluating…" on one run and the alert on the next."""
    watcher = getattr(pilot.app, "alert_watcher", None)
    deadline = time.monotonic() + TIMEOUT_S
    while watcher is not None and watcher.state.board is None and not watcher.state.problem:
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the alert banner's first evaluation")
        await pilot.pause(0.05)
    await pilot.pause()


async def wait_until(
    pilot: Any, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_S
) -> None:
    """Settle until ``condition()`` holds; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        await settle(pilot, rounds=1)
        try:
            if condition():
                return
        except Exception:  # a widget not mounted yet: not there, keep waiting
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)


def table_ready(pilot: Any, selector: str = "DataTable") -> bool:
    """True when the table ``selector`` on the current screen has rows and has
    laid them out.

    A DataTable sizes its columns on the next idle after rows are added, not
    when they are added: a snapshot taken in between shows the rows cut to the
    width of the column labels (`tick`, `clau`, `req_000`: issue 17 defect 14).
    ``_require_update_dimensions`` is that pending layout (Textual 8 internals;
    no public flag says it).
    """
    from textual.widgets import DataTable

    table = pilot.app.screen.query_one(selector, DataTable)
    return table.row_count > 0 and not table._require_update_dimensions


async def poll_until(
    pilot: Any, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_S
) -> None:
    """Like ``wait_until`` but without waiting for workers: for conditions that
    hold while a worker is still running (a batch in flight, to be cancelled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)


async def repaint(pilot: Any) -> None:
    """Repaint every widget of the current screen before a snapshot.

    The data is there and laid out (``table_ready``), but rows drawn before the
    columns were sized can stay on screen at the old widths, and a header drawn
    on first entry can stay blank (issue 17 defects 1 and 14; the xfail tests
    ``test_requests_first_frame_shows_header_and_rows`` and the tmux journeys
    check that paint). A snapshot is about what the screen shows for its data,
    so it is taken after a full repaint, whatever the paint timing was.
    """
    for widget in pilot.app.screen.walk_children():
        widget.refresh()
    pilot.app.screen.refresh(repaint=True)
    await pilot.pause()
