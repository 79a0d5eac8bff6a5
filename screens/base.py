"""What every console screen shares: the header, the footer, the session and
the one-shot loads (``screens/loader.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker

from console.core.session import Session
from screens.loader import Loader
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

    def compose(self) -> ComposeResult:
        header = DeckHeader(self.session)
        header.screen_title = self.TITLE
        yield header
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between header and footer."""
        yield from ()
