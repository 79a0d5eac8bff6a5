"""Look back: the keys that move the session's view time, on every screen with
a time window.

``[`` steps the view back by the screen's own span (the Overview at 6 h steps
6 h: the panels then show the six hours before, edge to edge, with nothing
skipped and nothing shown twice); ``]`` steps forward, and going live once it
reaches now; ``L`` returns to live at once. The view is the session's, so
every screen follows it (``DeckScreen.follow_view``); the header says
"AT ... (pinned)" on all of them. The App holds the bindings (one line each
in screens/app.py) so the footer lists them on every screen that has a window
and hides them elsewhere.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.binding import Binding

from console.core.session import Session
from screens.base import DeckScreen

BINDINGS = [
    Binding("left_square_bracket", "view_step(-1)", "Earlier", key_display="["),
    Binding("right_square_bracket", "view_step(1)", "Later", key_display="]"),
    Binding("L", "view_live", "Live", key_display="L"),
]
ACTIONS = frozenset({"view_step", "view_live"})


def _screen(app: App[Any]) -> DeckScreen | None:
    screen = app.screen
    return screen if isinstance(screen, DeckScreen) else None


def check(app: App[Any], session: Session, action: str) -> bool:
    """Whether a view key is offered now: stepping on a screen with a time window
    (not under a modal), ``L`` only while pinned."""
    if action not in ACTIONS:
        return True
    screen = _screen(app)
    if screen is None or screen.view_span() is None:
        return False
    return action == "view_step" or session.view.pinned


def step(app: App[Any], session: Session, direction: int) -> None:
    """Move the view one span of the current screen back (-1) or forward (+1)."""
    screen = _screen(app)
    span = screen.view_span() if screen is not None else None
    if screen is None or span is None:
        return
    session.view.step(span, direction)
    _moved(app, screen, session)


def live(app: App[Any], session: Session) -> None:
    """Back to live: the screens refresh again on their own."""
    session.view.go_live()
    screen = _screen(app)
    if screen is not None:
        _moved(app, screen, session)


def _moved(app: App[Any], screen: DeckScreen, session: Session) -> None:
    screen.follow_view()
    app.refresh_bindings()  # L appears or goes; the footer follows
    if not session.view.pinned:
        app.notify("live again", title="view", timeout=3)
