"""Move an alias (promote or roll back) from the Registry screen.

An alias move is a write, so it goes through the one write pipeline
(``console.actions``): plan in a worker, the pipeline's confirmation modal,
re-check, write, verify, audit. This module only asks which alias to move.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.actions import Confirmation, MoveAlias, Outcome, Pipeline, Plan
from console.core.errors import LlmdeckError

if TYPE_CHECKING:
    from screens.registry import RegistryScreen

SEVERITY = {"done": "information", "cancelled": "warning"}


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


class AliasMover:
    """Plans, confirms and executes ``MoveAlias`` for a Registry screen."""

    def __init__(self, screen: RegistryScreen) -> None:
        self.screen = screen

    def ask(self, name: str, version: str, aliases: list[str]) -> None:
        def chosen(alias: str | None) -> None:
            if alias:
                self._plan(MoveAlias(name, alias, version))

        self.screen.app.push_screen(AliasScreen(name, version, aliases), chosen)

    def _plan(self, change: MoveAlias) -> None:
        self._run(lambda: self._plan_now(change))

    def _run(self, fn: Callable[[], None]) -> None:
        self.screen.run_worker(
            fn, name="registry-change", group="registry-change", thread=True, exit_on_error=False
        )

    def _plan_now(self, change: MoveAlias) -> None:
        app = self.screen.app
        try:
            plan = Pipeline(self.screen.session).plan(change)
        except LlmdeckError as exc:  # refused (read-only), unknown version...: audited
            app.call_from_thread(
                self.screen.notify, str(exc), title="not planned", severity="error", timeout=8
            )
            return
        app.call_from_thread(self._confirm, plan)

    def _confirm(self, plan: Plan) -> None:
        from screens.modals.confirm import ConfirmScreen  # the pipeline's modal (issue 7)

        def answered(confirmation: Confirmation | None) -> None:
            self._execute(plan, confirmation or Confirmation(False))

        self.screen.app.push_screen(ConfirmScreen(plan), answered)

    def _execute(self, plan: Plan, confirmation: Confirmation) -> None:
        self._run(lambda: self._execute_now(plan, confirmation))

    def _execute_now(self, plan: Plan, confirmation: Confirmation) -> None:
        outcome = Pipeline(self.screen.session).execute(plan, confirmation)
        self.screen.app.call_from_thread(self._report, outcome)
        self.screen.app.call_from_thread(self.screen.poller.refresh_now)

    def _report(self, outcome: Outcome) -> None:
        severity = SEVERITY.get(outcome.status, "error")
        self.screen.notify(
            escape(outcome.message),
            title=outcome.status,
            severity=severity,  # type: ignore[arg-type]
            timeout=8,
        )
