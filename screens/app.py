"""The console's shell: screens by number key, the command palette, help,
and one place where any worker's failure becomes a visible notification."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from console.core.session import Session
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
            Binding(str(i), f"app.switch_mode('{s.mode}')", s.title, show=False)
            for i, s in enumerate(SCREENS, start=1)
        ),
        Binding("colon", "command_palette", "Palette", key_display=":"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self, session: Session, *, live: Any = None, local_model: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.live = live
        self.local_model = local_model  # the demo's model (console/local_model.py) or None
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
                lambda mode=entry.mode: self.switch_mode(mode),
            )
        yield SystemCommand("Help", "show the keys of this screen", self.action_help)
        yield SystemCommand("Quit", "leave llmdeck", self.exit)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        keys = []
        for active in self.active_bindings.values():
            binding = active.binding
            if binding.description and binding.show:
                display = binding.key_display or self.get_key_display(binding)
                keys.append((display, binding.description))
        for i, entry in enumerate(SCREENS, start=1):
            keys.append((str(i), f"go to {entry.title}"))
        keys.append(("ctrl+p", "command palette"))
        title = getattr(self.screen, "TITLE", "") or self.screen.__class__.__name__
        self.push_screen(HelpScreen(title, keys))

    def open_diff(self, group_by: str, group: str) -> None:
        """Open the diff of ``group`` (``prompt@version``) against its predecessor.

        Any screen can call this (Drift's and Requests' ``d`` key); see screens/diff.py.
        """
        from screens.diff import open_group_diff

        open_group_diff(self, group_by, group)

    def open_requests(self, flt: Any, group: str = "", signal: str = "") -> None:
        """Show the Requests screen filtered: ``flt`` is a RequestFilter, or a
        grouping (``prompt_version``, ``model``, ``route``, ``tenant``) with
        ``group`` and a Drift ``signal`` (see console.requests.query.from_group)."""
        from screens.requests import open_requests

        if isinstance(flt, str):
            from console.requests.query import from_group

            flt = from_group(flt, group, signal)
        open_requests(self, flt)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Any worker that fails becomes a notification, never a crash."""
        if event.state == WorkerState.ERROR:
            self.notify(
                describe(event.worker.error),
                title=event.worker.name or "error",
                severity="error",
                timeout=8,
            )


def run(session: Session, **kwargs: Any) -> int:
    """Run the console until the user quits; returns the exit code."""
    return LlmdeckApp(session, **kwargs).run() or 0
