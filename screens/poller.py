"""The one refresh mechanism for every live panel.

``Poller`` loads data in a thread worker and re-arms itself with a timer only
after the load finished, so refreshes never overlap however slow a backend
is. While another screen or a modal is on top of its screen it skips the
load; the screen calls ``resume`` when it is shown again, which loads at once
if a load was skipped or is due, so a screen never comes back showing data
as old as the time it was covered (Drift showed 19:10-20:10 at 20:27).
A failed load keeps the last good data and reports why, so the panel can say
"stale since HH:MM:SS: <reason>".

While the session's view is pinned to a past moment (``--at``, ``[``) the
poller does not re-arm: a pinned past does not change, so it loads once per
view move (``refresh_now``, which the screen calls when the view moves) and
on ``r``. Rows that arrive late for a pinned window (an ingest catching up)
show on the next move or ``r``, not by themselves. A ``refresh_now`` that
comes while a load runs is kept and done when it ends, so the load for the
new view is never lost to the one for the old.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from connectors.support.redact import scrub
from console.core import clock
from console.core.errors import LlmdeckError

T = TypeVar("T")


class Poller(Generic[T]):
    """Refresh ``screen`` every ``interval`` seconds with ``load`` (run in a thread)."""

    def __init__(
        self,
        screen: Screen[Any],
        name: str,
        load: Callable[[], T],
        apply: Callable[[T], None],
        interval: float,
        on_stale: Callable[[datetime, str], None] | None = None,
    ) -> None:
        self.screen = screen
        self.name = name
        self.load = load
        self.apply = apply
        self.interval = interval
        self.on_stale = on_stale
        self.stale_since: datetime | None = None
        self.refreshes = 0
        self._timer: Timer | None = None
        self._worker: Worker[T] | None = None
        # When the last load started, on the console clock (frozen and moved in
        # tests), and whether a tick was skipped because the screen was covered.
        self.loaded_at: datetime | None = None
        self._skipped = False
        self._again = False  # refresh_now came while a load ran: load again after it
        _BY_SCREEN.setdefault(screen, []).append(self)

    def start(self) -> None:
        self.refresh_now()

    def refresh_now(self) -> None:
        """Load now, unless a load is already running (it re-arms when done)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._worker is not None and self._worker.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        ):
            self._again = True
            return
        if self.screen.app.screen is not self.screen:
            self._skipped = True  # ``resume`` loads as soon as the screen is shown
            self._arm()  # covered by a modal or another screen: look again later
            return
        self._skipped = False
        self.loaded_at = clock.now()
        self._worker = self.screen.run_worker(
            self.load,
            name=self.name,
            group=self.name,
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def resume(self) -> None:
        """The screen is shown again: load now if a load was skipped while it was
        covered or one is due (``interval`` has passed on the console clock)."""
        if self.loaded_at is None:
            return  # not started yet: ``start`` loads
        due = (clock.now() - self.loaded_at).total_seconds() >= self.interval
        due = due and not _pinned(self.screen)
        if self._skipped or due:
            self.refresh_now()

    def _arm(self) -> None:
        if self._again:
            self._again = False
            self.refresh_now()
            return
        if _pinned(self.screen):
            return  # nothing changes in a pinned past: the next view move loads
        self._timer = self.screen.set_timer(self.interval, self.refresh_now, name=self.name)

    def handle(self, event: Worker.StateChanged) -> bool:
        """Feed the screen's worker events here; True when the event was this poller's."""
        worker = event.worker
        if worker is not self._worker:
            return False
        event.stop()  # the stale marker reports it; no app-wide notification
        if event.state == WorkerState.SUCCESS:
            self.refreshes += 1
            self.stale_since = None
            self.apply(worker.result)  # type: ignore[arg-type]
        elif event.state == WorkerState.ERROR:
            self.stale_since = self.stale_since or clock.now()
            if self.on_stale:
                self.on_stale(self.stale_since, describe(worker.error))
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._arm()
        return True


# Every screen's pollers, so that a move of the view time reloads them all.
_BY_SCREEN: weakref.WeakKeyDictionary[Screen[Any], list[Poller[Any]]] = weakref.WeakKeyDictionary()


def pollers_of(screen: Screen[Any]) -> list[Poller[Any]]:
    """The pollers made for ``screen``, oldest first."""
    return list(_BY_SCREEN.get(screen, ()))


def _pinned(screen: Screen[Any]) -> bool:
    session = getattr(screen.app, "session", None)
    return bool(session is not None and session.view.pinned)


def describe(error: BaseException | None) -> str:
    """One line for an error, without a traceback. An LlmdeckError (connector
    errors included) is shown as it is (scrubbed when made); anything else is a
    bug whose text may quote a URL or a header, so it is scrubbed here."""
    if error is None:
        return "unknown error"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, LlmdeckError):
        return text or type(error).__name__
    return scrub(text) or type(error).__name__
