"""Recording an incident from any screen: ``I`` opens one (title and
severity), ``n`` adds a note to the open one.

Both only ask; the App writes the record in a worker
(``console/incident/record.py``: a local record, audited, not a backend
write, so not the write pipeline's confirmation).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static

from console.incident.record import MAX_NOTE, MAX_TITLE, SEVERITIES

# What each severity means here; the record keeps the short name.
SEVERITY_LABELS = {
    "sev1": "sev1 · critical: users cannot work",
    "sev2": "sev2 · major: a route is degraded",
    "sev3": "sev3 · minor: some requests affected",
    "sev4": "sev4 · low: no user impact yet",
}
DEFAULT_SEVERITY = "sev2"


class OpenIncidentScreen(ModalScreen[tuple[str, str] | None]):
    """Ask for a title and a severity; answers ``(title, severity)`` or None."""

    CSS_PATH = "incident.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="incident-box"):
            yield Static("Open an incident", id="incident-heading")
            yield Input(
                placeholder="what is wrong, in one line",
                max_length=MAX_TITLE,
                id="incident-title",
            )
            yield Select(
                [(SEVERITY_LABELS[s], s) for s in SEVERITIES],
                value=DEFAULT_SEVERITY,
                allow_blank=False,
                id="incident-severity",
            )
            yield Static("", id="incident-error")
            yield Static(
                "enter to open · tab to the severity · escape to cancel", id="incident-hint"
            )

    def on_mount(self) -> None:
        self.query_one("#incident-title", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        title = " ".join(event.value.split())
        if not title:
            self.query_one("#incident-error", Static).update("an incident needs a title")
            return
        severity = self.query_one("#incident-severity", Select).value
        self.dismiss((title, str(severity)))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteScreen(ModalScreen[str | None]):
    """Ask for a note on the open incident; answers the text or None."""

    CSS_PATH = "incident.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, label: str, title: str) -> None:
        super().__init__()
        self.label, self.incident_title = label, title

    def compose(self) -> ComposeResult:
        with Vertical(id="incident-box"):
            yield Static(
                f"Note on [b]{escape(self.label)}[/]: {escape(self.incident_title)}",
                id="incident-heading",
            )
            yield Input(
                placeholder="what you saw, did or decided",
                max_length=MAX_NOTE,
                id="incident-note",
            )
            yield Static("", id="incident-error")
            yield Static("enter to add it to the timeline · escape to cancel", id="incident-hint")

    def on_mount(self) -> None:
        self.query_one("#incident-note", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.query_one("#incident-error", Static).update("a note needs some text")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
