"""The console's shell: screens by number key, the command palette, help,
and one place where any worker's failure becomes a visible notification.

Navigation between screens is not here: screens use ``screens/navigation.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from console.core.session import Session
from screens import lookback, navigation
from screens.catalog import SCREENS
from screens.modals.help import HelpScreen
from screens.poller import describe
from screens.widgets.too_small import SizeGuard


class LlmdeckApp(SizeGuard, App[int]):  # SizeGuard: terminal-size classes
    """llmdeck on one session (profile)."""

    CSS_PATH = "app.tcss"
    TITLE = "llmdeck"
    MODES: ClassVar[dict[str, Any]] = {s.mode: s.factory() for s in SCREENS}
    DEFAULT_MODE = SCREENS[0].mode
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(i), f"app.go('{s.mode}')", s.title, show=False)
            for i, s in enumerate(SCREENS, start=1)
        ),
        Binding("colon", "command_palette", "Palette", key_display=":"),
        # Textual adds its ctrl+p only when no binding opens the palette; ours
        # does (":"), so ctrl+p is declared here. Priority: it works in inputs.
        Binding("ctrl+p", "command_palette", "Palette", show=False, priority=True),
        # Screens that use escape themselves (close a filter, cancel) fall back
        # on navigation.back when they have nothing to close.
        Binding("escape", "go_back", "Back", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        *lookback.BINDINGS,  # [ ] step the view time, L back to live
    ]

    def __init__(
        self, session: Session, *, live: Any = None, local_model: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.live = live
        self.local_model = local_model  # the demo's model (console/demo/local_model.py) or None
        self.model_watcher: Any = None
        if session.profile.is_production:
            self.add_class("-production")

    def on_mount(self) -> None:
        if self.local_model is not None:
            from screens.widgets.model_status import ModelWatcher

            self.model_watcher = ModelWatcher(self, self.local_model)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for i, entry in enumerate(SCREENS, start=1):
            yield SystemCommand(
                f"{entry.title} ({i})",
                entry.description,
                lambda mode=entry.mode: navigation.go(self, mode),
            )
        yield SystemCommand("Help", "show the keys of this screen", self.action_help)
        yield SystemCommand("Quit", "leave llmdeck", self.exit)

    def action_go(self, mode: str) -> None:
        navigation.go(self, mode)

    def action_go_back(self) -> None:
        navigation.back(self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return lookback.check(self, self.session, action)

    def action_view_step(self, direction: int) -> None:
        lookback.step(self, self.session, direction)

    def action_view_live(self) -> None:
        lookback.live(self, self.session)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        keys = []
        for active in self.active_bindings.values():
            binding = active.binding
            # A key the screen does not offer now (check_action False, e.g.
            # break-glass in a forced read-only session) is not listed either.
            if not active.enabled:
                continue
            if binding.description and binding.show:
                display = binding.key_display or self.get_key_display(binding)
                keys.append((display, binding.description))
        for i, entry in enumerate(SCREENS, start=1):
            keys.append((str(i), f"go to {entry.title}"))
        keys.append(("ctrl+p", "command palette"))
        title = getattr(self.screen, "TITLE", "") or self.screen.__class__.__name__
        self.push_screen(HelpScreen(title, keys))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Any worker that fails becomes a notification, never a crash.

        Screens that show a failure in place stop the event first (a Poller's
        stale marker, a Loader's ``failed``); every other one arrives here.
        """
        if self.model_watcher is not None and self.model_watcher.loader.handle(event):
            return
        if event.state == WorkerState.ERROR:
            self.notify(
                escape(describe(event.worker.error)),  # an error text is not markup
                title=event.worker.name or "error",
                severity="error",
                timeout=8,
            )


def run(session: Session, **kwargs: Any) -> int:
    """Run the console until the user quits; returns the exit code."""
    return LlmdeckApp(session, **kwargs).run() or 0
