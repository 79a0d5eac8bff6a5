"""The confirmation modal of the write pipeline: the plan (every step, before
and after, blast radius) and, in production, the typed name and a reason.

Returns a Confirmation with ``dismiss``; escape cancels (the pipeline then
audits ``cancelled``).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from console.actions import Confirmation, Plan
from console.actions.pipeline import confirmation_problem
from console.actions.plan import fmt_state


class ConfirmScreen(ModalScreen[Confirmation]):
    """Show ``plan``; apply only with what the environment requires."""

    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(id="confirm-box", classes="-production" if plan.production else ""):
            env = plan.environment.upper() if plan.production else plan.environment
            yield Static(f"Confirm: {escape(plan.title)}", id="confirm-title")
            yield Static(
                f"environment [b]{escape(env)}[/]"
                + (" · [b]PRODUCTION: typed confirmation and a reason required[/]"
                   if plan.production else ""),
                id="confirm-env",
            )  # fmt: skip
            table: DataTable[str] = DataTable(id="confirm-steps", cursor_type="none")
            table.add_columns("change", "target", "before", "", "after")
            for step in plan.steps:
                table.add_row(
                    step.action.replace("_", " "),
                    escape(step.target),
                    escape(fmt_state(step.before)),
                    "→",
                    escape(fmt_state(step.after)),
                )
            yield table
            yield Static(f"blast radius: {escape(plan.blast.describe())}", id="confirm-blast")
            for note in plan.notes:
                yield Static(f"· {escape(note)}", classes="confirm-note")
            if plan.production:
                words = " or ".join(plan.confirm_words)
                yield Input(placeholder=f"type {words}", id="confirm-typed")
            yield Input(
                placeholder="reason" + (" (required)" if plan.production else " (optional)"),
                id="confirm-reason",
            )
            yield Static("", id="confirm-error")
            with Horizontal(id="confirm-buttons"):
                yield Button(
                    "Apply", id="confirm-apply", variant="error" if plan.production else "primary"
                )
                yield Button("Cancel", id="confirm-cancel")

    def on_mount(self) -> None:
        first = "#confirm-typed" if self.plan.production else "#confirm-reason"
        self.query_one(first, Input).focus()

    def _answer(self) -> Confirmation:
        typed = self.query("#confirm-typed")
        return Confirmation(
            True,
            reason=self.query_one("#confirm-reason", Input).value,
            typed=typed.first(Input).value if typed else "",
        )

    def action_apply(self) -> None:
        answer = self._answer()
        problem = confirmation_problem(self.plan, answer)
        if problem:
            self.query_one("#confirm-error", Static).update(escape(problem))
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(Confirmation(False, reason=self._answer().reason))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "confirm-typed":
            self.query_one("#confirm-reason", Input).focus()
        else:
            self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-apply":
            self.action_apply()
        else:
            self.action_cancel()


class ReasonScreen(ModalScreen[str | None]):
    """Ask for a reason (break-glass); None when cancelled."""

    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, explanation: str) -> None:
        super().__init__()
        self.title_text = title
        self.explanation = explanation

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="-production"):
            yield Static(escape(self.title_text), id="confirm-title")
            yield Static(escape(self.explanation), id="confirm-env")
            yield Input(placeholder="reason (required)", id="confirm-reason")
            yield Static("", id="confirm-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.query_one("#confirm-error", Static).update("a reason is required")
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
