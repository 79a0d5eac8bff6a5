"""The alert banner under every screen's header: how many alerts fire, the
worst one with its onset, and its top suspect, without pressing a key.

``AlertWatcher`` evaluates the alerts for the whole App in a thread worker on
the profile's refresh interval (one evaluation, whatever screen is shown)
and hands the result to the banners; a banner shown later reads the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import App
from textual.widgets import Static

from console.alerts.engine import Board
from console.alerts.model import Alert
from console.core.errors import LlmdeckError
from screens.loader import Loader


@dataclass(frozen=True)
class BannerState:
    """What the banner shows: the board and the worst alert's top suspect."""

    board: Board | None = None
    suspect: str = ""
    problem: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def banner_text(state: BannerState) -> Text:
    text = Text()
    live_pages = int(state.extra.get("live_pages", 0))
    if live_pages:
        text.append(f" LIVE NOW: {live_pages} page firing (L) ", style="bold reverse red")
    board = state.board
    if board is None:
        if state.problem:
            text.append(f" alerts: {state.problem}", style="yellow")
        else:
            text.append(" alerts: evaluating…", style="dim")
        return text
    firing = board.firing
    pending = [a for a in board.active if a.state == "pending" and not a.silenced(board.at)]
    if not firing:
        text.append(" ✓ no alerts firing", style="dim")
        if pending:
            text.append(f" · {len(pending)} pending: {pending[0].title}", style="yellow")
        if state.problem:
            text.append(f" · {state.problem}", style="yellow")
        return text
    worst: Alert = firing[0]
    pages = [a for a in firing if a.severity == "page"]
    head = f" ▲ {len(firing)} FIRING" + (f" ({len(pages)} page)" if pages else "")
    text.append(head + " ", style="bold reverse red" if pages else "bold reverse yellow")
    since = f" since {worst.onset:%H:%M}" if worst.onset else ""
    text.append(f" {worst.severity.upper()}: {worst.title}{since}", style="bold")
    if worst.acked_by:
        text.append(f" (acked by {worst.acked_by})", style="dim")
    if state.suspect:
        text.append(f" · suspect: {state.suspect}")
    text.append("  9 alerts", style="dim")
    return text


class AlertBanner(Static):
    """One line under the header; red when a page fires, amber for a ticket."""

    def __init__(self) -> None:
        super().__init__(id="alert-banner")

    def on_mount(self) -> None:
        self.show(current_state(self.app))

    def show(self, state: BannerState) -> None:
        board = state.board
        self.set_class(bool(board and board.pages()), "-page")
        self.set_class(bool(board and board.firing and not board.pages()), "-ticket")
        self.update(banner_text(state))


class AlertWatcher:
    """Evaluates the alerts for ``app`` every ``interval`` seconds."""

    def __init__(self, app: App[Any], session: Any, interval: float) -> None:
        self.app = app
        self.session = session
        self.state = BannerState()
        self.loader = Loader(app)  # its events reach LlmdeckApp.on_worker_state_changed
        self._busy = False  # one evaluation at a time, however slow the backend
        app.set_interval(interval, self.tick, name="alerts")
        self.tick()

    def tick(self) -> None:
        if self._busy:
            return
        self._busy = True
        self.loader.load("alerts", self._load, self._show, self._failed)

    def _failed(self, error: BaseException) -> None:
        self._busy = False
        self._show(BannerState(self.state.board, self.state.suspect, f"alerts stale: {error}"))

    def _load(self) -> BannerState:
        from console.alerts.board import current, top_suspect

        try:
            # Drift alerts are re-computed at most every few minutes (board.DRIFT_MAX_AGE_S),
            # here as on the Alerts screen, so both count the same alerts.
            board = current(self.session, drift="fresh")
        except LlmdeckError as exc:
            return BannerState(self.state.board, self.state.suspect, f"alerts stale: {exc}")
        live_pages = 0
        if getattr(self.session, "view", None) is not None and self.session.view.pinned:
            # Looking back shows the past's alerts; a page firing now must still show.
            from console.alerts import engine
            from console.core import clock

            try:
                live_pages = len(engine.evaluate(self.session, clock.now()).pages())
            except LlmdeckError:
                live_pages = 0
        worst = board.worst
        try:
            suspect = top_suspect(self.session, worst) if worst else ""
        except Exception as exc:  # the suspects are secondary: never hide the alert for them
            suspect = f"(suspects unavailable: {type(exc).__name__})"
        return BannerState(board, suspect, extra={"live_pages": live_pages})

    def _show(self, state: BannerState) -> None:
        self._busy = False
        self.state = state
        for screen in self.app.screen_stack:
            for banner in screen.query(AlertBanner):
                banner.show(state)


def current_state(app: Any) -> BannerState:
    watcher = getattr(app, "alert_watcher", None)
    return watcher.state if watcher else BannerState()
