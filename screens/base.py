"""What every console screen shares: the header, the footer, the session and
the one-shot loads (``screens/loader.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, cast

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker

from console.core.session import Session
from screens.loader import Loader
from screens.widgets.alert_banner import AlertBanner, current_state
from screens.widgets.deck_header import DeckHeader


class SessionApp(Protocol):
    """What a screen needs from its App (``screens/app.py`` provides it): typed
    here so that no screen imports the App, which imports the screens."""

    session: Session


class DeckScreen(Screen[Any]):
    """A top-level screen: header, the screen's body, footer with its keys."""

    TITLE: ClassVar[str] = ""

    @property
    def session(self) -> Session:
        return cast(SessionApp, self.app).session

    def __init__(self, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.loader = Loader(self)

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
