"""Variant weights for a flag, typed as ``v13=90 v14=10`` (the Flags ``w`` key)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class WeightsScreen(ModalScreen[str | None]):
    """Ask for weights as ``v13=90 v14=10``; None when cancelled."""

    CSS_PATH = "../flags.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, key: str, current: str) -> None:
        super().__init__()
        self.key = key
        self.current = current

    def compose(self) -> ComposeResult:
        yield Static(f"weights for {escape(self.key)} (percent, adding up to 100)")
        yield Input(self.current, id="weights-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
