"""What every console screen shares: the header, the footer, the session and
the one-shot loads (``screens/loader.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, cast

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker

from console.core.session import Session
from screens.loader import Loader
from screens.poller import pollers_of
from screens.widgets.alert_banner import AlertBanner, current_state
from screens.widgets.deck_header import DeckHeader

_UNSET = object()


class SessionApp(Protocol):
    """What a screen needs from its App (``screens/app.py`` provides it): typed
    here so that no screen imports the App, which imports the screens."""

    session: Session


class DeckScreen(Screen[Any]):
    """A top-level screen: header, the screen's body, footer with its keys."""

    TITLE: ClassVar[str] = ""
    # How far ``[`` and ``]`` move the view time on a screen without a range of
    # its own to step by (None: the screen shows no time window, no keys).
    VIEW_STEP: ClassVar[timedelta | None] = None

    @property
    def session(self) -> Session:
        return cast(SessionApp, self.app).session

    def __init__(self, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.loader = Loader(self)
        # The view time this screen last loaded for (unset: its first loads use the current one).
        self._view_at: datetime | object | None = _UNSET

    def load(
        self,
        name: str,
        fn: Callable[[], Any] | Awaitable[Any],
        done: Callable[[Any], object] = lambda _result: None,
        failed: Callable[[BaseException], None] | None = None,
        *,
        exclusive: bool = True,
    ) -> Worker[Any]:
        """Load once in a worker; see ``screens/loader.py`` for the contract."""
        return self.loader.load(name, fn, done, failed, exclusive=exclusive)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Runs after a subclass's own handler (Textual dispatches along the MRO),
        # which feeds its Pollers; the one-shot loads are routed here.
        self.loader.handle(event)

    def on_screen_resume(self) -> None:
        # The open incident may have changed while this screen was hidden (another
        # screen's I, the CLI): its header shows the App's current marker.
        for header in self.query(DeckHeader):
            header.incident = str(getattr(self.app, "incident_marker", "") or "")
        # Textual sizes a screen only from a Resize event, which only the first
        # screen gets (at start-up). A screen shown later by switch_mode or
        # push_screen keeps a 0x0 size, so its resume refresh repaints nothing:
        # the previous screen's frame stays on the terminal until a resize,
        # while this one takes the keys (issue 17, defect 1). Give it its size,
        # once it is composed (a Resize before that sizes nothing).
        # Again a moment later: a frame painted during switch_mode's update
        # freeze is dropped, and under load the screen may compose after the
        # first refresh (seen in tmux: Drift, esc, 3 left the Overview on screen).
        for banner in self.query(AlertBanner):
            banner.show(current_state(self.app))
        self.call_after_refresh(self._take_app_size)
        self.set_timer(0.25, self._take_app_size)
        self.set_timer(1.0, self._take_app_size)
        self.follow_view()

    # -- the view time (console/core/viewtime.py; keys in screens/lookback.py) ------

    def view_span(self) -> timedelta | None:
        """How far ``[``/``]`` step: the span of the screen's time window."""
        return self.VIEW_STEP

    def follow_view(self) -> None:
        """Show the session's view time: the header, and a reload when it moved
        since this screen last loaded (it moved on another screen, or by a key)."""
        for header in self.query(DeckHeader):
            header.show_view()
        at = self.session.view.at
        if self._view_at is _UNSET:
            self._view_at = at
        elif at != self._view_at:
            self._view_at = at
            self.view_changed()
        for poller in pollers_of(self):
            poller.resume()  # pinned: loads only what a covered screen skipped

    def view_changed(self) -> None:
        """The view time moved: reload what the screen shows (its pollers by default)."""
        for poller in pollers_of(self):
            poller.refresh_now()

    def _take_app_size(self) -> None:
        if not self.is_current:
            return
        if self.outer_size != self.app.size:
            self.post_message(events.Resize(self.app.size, self.app.size))
        else:
            self.refresh(layout=True)

    def compose(self) -> ComposeResult:
        header = DeckHeader(self.session)
        header.screen_title = self.TITLE
        yield header
        yield AlertBanner()
        yield from self.compose_body()
        # ":" Palette is already among the keys; ctrl+p is listed by "?" (help).
        yield Footer(show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between header and footer."""
        yield from ()
