"""What every console screen shares: the header, the footer and the session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from console.core.session import Session
from screens.widgets.deck_header import DeckHeader

if TYPE_CHECKING:
    from screens.app import LlmdeckApp


class DeckScreen(Screen[Any]):
    """A top-level screen: header, the screen's body, footer with its keys."""

    TITLE: ClassVar[str] = ""

    @property
    def deck(self) -> LlmdeckApp:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> Session:
        return self.deck.session

    def compose(self) -> ComposeResult:
        header = DeckHeader(self.session)
        header.screen_title = self.TITLE
        yield header
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between header and footer."""
        yield from ()
