"""The console's shell: screens by number key, the command palette, help,
the incident keys (``I`` open one, ``n`` add a note to it) on every screen,
and one place where any worker's failure becomes a visible notification.

Navigation between screens is not here: screens use ``screens/navigation.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from console.core.session import Session
from console.incident import record
from console.incident.record import Incident, Note
from screens import lookback, navigation
from screens.catalog import SCREENS
from screens.loader import Loader
from screens.modals.help import HelpScreen
from screens.modals.incident import NoteScreen, OpenIncidentScreen
from screens.poller import describe
from screens.widgets.deck_header import DeckHeader
from screens.widgets.too_small import SizeGuard

# Keys that record the incident: not offered under --read-only, which refuses them.
INCIDENT_ACTIONS = frozenset({"open_incident", "incident_note"})


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
        # Screen keys win over these: on Diff (n next hunk) and Replay (n next
        # repeat) a note is taken from the palette ("Incident note").
        Binding("I", "open_incident", "Incident", key_display="I"),
        Binding("n", "incident_note", "Note"),
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
        self.alert_watcher: Any = None
        # The incident the header shows and ``n`` writes to: re-read from the
        # store on start and on every ``n`` (the CLI or another console may
        # have opened or closed one meanwhile).
        self.open_incident: Incident | None = None
        self.incident_marker = ""
        self.incidents = Loader(self)
        if session.profile.is_production:
            self.add_class("-production")

    def on_mount(self) -> None:
        from screens.widgets.alert_banner import AlertWatcher

        self.alert_watcher = AlertWatcher(self, self.session, self.session.profile.refresh_seconds)
        if self.local_model is not None:
            from screens.widgets.model_status import ModelWatcher

            self.model_watcher = ModelWatcher(self, self.local_model)
        # Best effort: a store that cannot be read now is reported when n needs it.
        self.incidents.load(
            "incident-current", self._current_incident, self.show_incident, lambda _error: None
        )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for i, entry in enumerate(SCREENS, start=1):
            yield SystemCommand(
                f"{entry.title} ({i})",
                entry.description,
                lambda mode=entry.mode: navigation.go(self, mode),
            )
        if not self.session.forced_read_only:
            yield SystemCommand(
                "Open incident (I)",
                "record an incident: title and severity",
                self.action_open_incident,
            )
            yield SystemCommand(
                "Incident note (n)",
                "add a note to the open incident's timeline",
                self.action_incident_note,
            )
        yield SystemCommand("Help", "show the keys of this screen", self.action_help)
        yield SystemCommand("Quit", "leave llmdeck", self.exit)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in INCIDENT_ACTIONS and self.session.forced_read_only:
            return False
        if not lookback.check(self, self.session, action):
            return False
        return super().check_action(action, parameters)

    # -- the incident record (console/incident/record.py) ---------------------
    def _current_incident(self) -> Incident | None:
        workspace = self.session.profile.workspace
        # No store, no incident: looking must not create one (under --read-only
        # nothing may be created; a profile without a workspace has none).
        if workspace is None or not (workspace / "store.db").exists():
            return None
        return record.current(self.session.store())

    def show_incident(self, incident: Incident | None) -> None:
        """Make ``incident`` the open one and mark it in every header."""
        self.open_incident = incident
        self.incident_marker = f"{incident.label} open" if incident else ""
        for screen in self.screen_stack:
            for header in screen.query(DeckHeader):
                header.incident = self.incident_marker

    def action_open_incident(self) -> None:
        if isinstance(self.screen, ModalScreen):
            return  # one dialog at a time; I typed in a dialog's field is text
        self.push_screen(OpenIncidentScreen(), self._open_answered)

    def _open_answered(self, answer: tuple[str, str] | None) -> None:
        if answer is None:
            return
        title, severity = answer

        def opened(incident: Incident) -> None:
            self.show_incident(incident)
            self.notify(
                f"{incident.label} opened ({incident.severity}): n adds a note to its timeline",
                title="incident",
            )

        # Not exclusive: a write is never cancelled for a newer one.
        self.incidents.load(
            "incident-open",
            lambda: record.open_incident(self.session, title, severity),
            opened,
            exclusive=False,
        )

    def action_incident_note(self) -> None:
        if isinstance(self.screen, ModalScreen):
            return
        self.incidents.load("incident-current", self._current_incident, self._note_for)

    def _note_for(self, incident: Incident | None) -> None:
        self.show_incident(incident)
        if incident is None:
            self.notify("No incident is open: press I to open one.", severity="warning")
            return
        if isinstance(self.screen, ModalScreen):
            return
        self.push_screen(
            NoteScreen(incident.label, incident.title),
            lambda text: self._note_answered(incident, text),
        )

    def _note_answered(self, incident: Incident, text: str | None) -> None:
        if not text:
            return

        def added(note: Note) -> None:
            self.notify(f"note added to {incident.label}", title="incident")

        self.incidents.load(
            "incident-note",
            lambda: record.add_note(self.session, incident.id, text),
            added,
            exclusive=False,
        )

    def action_go(self, mode: str) -> None:
        navigation.go(self, mode)

    def action_go_back(self) -> None:
        navigation.back(self)

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
        if self.alert_watcher is not None and self.alert_watcher.loader.handle(event):
            return
        if self.incidents.handle(event) and event.state != WorkerState.ERROR:
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
