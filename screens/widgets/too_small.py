"""The terminal's size: size classes for responsive layouts, and a clear
"terminal too small" message below the smallest size the console supports.

Below MIN_SIZE the panels cannot show a figure that is readable (charts turn
into empty boxes, the header is cut), so instead of a broken layout the user
gets one sentence saying what size is needed. The message is a modal screen:
it covers whatever screen is current, takes every key but quit, and goes away
as soon as the terminal is large enough again.

Size classes on the App, for ``.tcss`` rules (``App.-compact #charts {...}``):

- ``-compact``: narrower than WIDE_SIZE or shorter than it; screens show fewer,
  larger panels (screens/overview.tcss).
- ``-too-small``: below MIN_SIZE.

``SizeGuard`` is a mixin for the App: it reacts to every resize (and to the
first size the driver reports), so the hook in screens/app.py is one base class.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Middle
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widgets import Static

# The smallest terminal the console lays out for (a classic VT100 / SSH default).
MIN_SIZE = Size(80, 24)
# Below this size screens switch to their compact layout (fewer, larger panels).
WIDE_SIZE = Size(120, 40)


def message(size: Size) -> str:
    """The sentence shown below MIN_SIZE."""
    return (
        f"terminal too small (need {MIN_SIZE.width}x{MIN_SIZE.height}, "
        f"have {size.width}x{size.height}): enlarge the window, or q to quit"
    )


def too_small(size: Size) -> bool:
    return size.width < MIN_SIZE.width or size.height < MIN_SIZE.height


def compact(size: Size) -> bool:
    return size.width < WIDE_SIZE.width or size.height < WIDE_SIZE.height


class TooSmallScreen(ModalScreen[None]):
    """Covers the console while the terminal is below MIN_SIZE."""

    DEFAULT_CSS = """
    TooSmallScreen {
        align: center middle;
        background: $background;
    }
    TooSmallScreen #too-small {
        width: 100%;
        height: auto;
        content-align: center middle;
        text-align: center;
        color: $warning;
        text-style: bold;
    }
    """
    # Screen-switching keys would show a screen under a layout that cannot fit:
    # swallow them here (a modal's bindings come before the App's).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(",".join([*map(str, range(10)), "colon", "ctrl+p", "question_mark"]), "noop"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, size: Size) -> None:
        super().__init__()
        self._size = size

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(message(self._size), id="too-small")

    def show_size(self, size: Size) -> None:
        self._size = size
        self.query_one("#too-small", Static).update(message(size))

    def action_noop(self) -> None:
        """Keys that would open or switch screens do nothing while too small."""


class SizeGuard:
    """App mixin: size classes and the too-small message on every resize."""

    def on_resize(self, event: events.Resize) -> None:
        apply(self, event.size)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        # The driver reports its size before the App mounts; apply it once now.
        app: App[Any] = self  # type: ignore[assignment]
        app.call_after_refresh(apply, app, app.size)


def apply(app: App[Any], size: Size) -> None:
    """Set the size classes on ``app`` and show or hide the too-small message."""
    app.set_class(compact(size), "-compact")
    app.set_class(too_small(size), "-too-small")
    covering = [s for s in app.screen_stack if isinstance(s, TooSmallScreen)]
    if too_small(size):
        if covering:
            covering[-1].show_size(size)
        else:
            app.push_screen(TooSmallScreen(size))
    elif covering and app.screen is covering[-1]:
        app.pop_screen()
        # The class changed while the message covered the screen below, whose
        # styles Textual does not recompute on resume: it kept the compact
        # layout after 40x10 -> 160x48 (seen in tmux). Restyle it now.
        app.call_after_refresh(_restyle, app)


def _restyle(app: App[Any]) -> None:
    app.screen.update_node_styles(animate=False)
    app.screen.refresh(layout=True)
