"""The header: profile, environment and mode, production unmistakable, the
open incident (``INC-3 open``) while there is one, and a view pinned to the
past (``--at``, ``[``) just as unmistakable."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from console.core.session import Session


class DeckHeader(Static):
    """One line: llmdeck, the screen, the profile, its environment and mode."""

    screen_title: reactive[str] = reactive("")
    status: reactive[str] = reactive("")
    # "INC-3 open" while an incident is open; the App sets it on every header
    # (``LlmdeckApp.show_incident``) and a header shown later reads it on mount.
    incident: reactive[str] = reactive("")

    def __init__(self, session: Session) -> None:
        super().__init__(id="deck-header")
        self.session = session
        if session.profile.is_production:
            self.add_class("-production")
        self.set_class(session.view.pinned, "-pinned")

    def show_view(self) -> None:
        """Redraw for the session's view time (it moved: pinned, stepped or live)."""
        self.set_class(self.session.view.pinned, "-pinned")
        self.refresh()

    def on_mount(self) -> None:
        self.incident = str(getattr(self.app, "incident_marker", "") or "")

    def render(self) -> Text:
        p = self.session.profile
        mode = "READ-ONLY" if self.session.read_only else "read-write"
        env = p.environment.upper() if p.is_production else p.environment
        text = Text()
        text.append(" llmdeck ", style="bold reverse")
        text.append(f"  {self.screen_title}  ", style="bold")
        if pinned := self.session.view.label():
            # Before the profile: the first thing read, and never cut at 80 columns.
            text.append(f" {pinned} ", style="bold reverse")
            text.append(" ")
        if self.incident:
            # Early in the line: still visible when a narrow terminal cuts the rest.
            text.append(f" {self.incident} ", style="bold reverse")
            text.append(" ")
        text.append(f"│ profile {p.name} │ {env} │ {mode} ")
        if p.is_production:
            text.append(" ▲ PRODUCTION: every write is typed and audited ", style="bold reverse")
        if self.status:
            text.append(f" │ {self.status}")
        return text
