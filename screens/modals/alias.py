"""Which alias to move (promote or roll back) from the Registry screen.

The move itself is a write: the Registry hands ``MoveAlias`` to the one write
flow (``screens/write_flow.py``). This modal only asks for the alias name.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class AliasScreen(ModalScreen[str | None]):
    """Ask which alias should point at the selected version; None when cancelled."""

    CSS_PATH = "../registry.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, name: str, version: str, aliases: list[str]) -> None:
        super().__init__()
        self.prompt_name, self.version, self.aliases = name, version, aliases

    def compose(self) -> ComposeResult:
        with Vertical(id="alias-box"):
            yield Static(
                f"Point an alias of [b]{escape(self.prompt_name)}[/] at v{escape(self.version)}",
                id="alias-title",
            )
            known = ", ".join(self.aliases) or "none yet"
            yield Static(f"current aliases: {escape(known)}", id="alias-known")
            default = "production" if "production" in self.aliases or not self.aliases else ""
            yield Input(value=default, placeholder="alias name", id="alias-input")
            yield Static("enter to plan the change · escape to cancel", id="alias-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        alias = event.value.strip()
        if alias:
            self.dismiss(alias)

    def action_cancel(self) -> None:
        self.dismiss(None)
