"""The one UI flow of a write: plan -> confirm -> execute -> notify.

Every screen that changes a backend (Flags, the Registry's alias move) calls
``WriteFlow(screen, name, after).propose(change)``:

1. plan ``change`` with ``console.actions.Pipeline`` in a worker (it reads
   the backend and the blast radius). A refusal (read-only, unknown
   version...) is audited by the pipeline and shown as "not planned";
2. show the plan in ``screens.modals.ConfirmScreen``; escape cancels;
3. execute in a worker: the pipeline re-reads, writes, verifies and audits
   every ending (done, cancelled, conflict, failed) and never raises;
4. notify the outcome, then call ``after`` (the screen refreshes its data).
"""

from __future__ import annotations

from collections.abc import Callable

from textual.markup import escape

from console.actions import Confirmation, Outcome, Pipeline, Plan
from console.actions.changes import Change
from console.core.errors import LlmdeckError
from screens.base import DeckScreen
from screens.modals import ConfirmScreen
from screens.poller import describe

SEVERITY = {"done": "information", "cancelled": "warning"}


class WriteFlow:
    """Plans, confirms and executes changes for ``screen`` (workers named ``name``)."""

    def __init__(self, screen: DeckScreen, name: str, after: Callable[[], None]) -> None:
        self.screen = screen
        self.name = name
        self.after = after

    def propose(self, change: Change) -> None:
        """Start the flow for ``change``; returns at once (the rest runs in workers).

        Refused while the view is pinned to the past: the operator would decide on
        what the screen showed then, while the write changes the backend now.
        Refusing is the safer of the two (a warning in the confirmation is read
        past at 3 a.m.); ``L`` goes live first, which takes one key.
        """
        session = self.screen.session
        if session.view.pinned:
            self.screen.notify(
                escape(
                    f"{change.title()}: the view is pinned to {session.view.moment()}; "
                    "writes happen now. Press L to go live, then try again."
                ),
                title="not planned",
                severity="warning",
                timeout=8,
            )
            return
        self.screen.load(
            self.name, lambda: Pipeline(session).plan(change), self._confirm, self._not_planned
        )

    def _not_planned(self, error: BaseException) -> None:
        # LlmdeckError: refused or impossible, audited by the pipeline. Anything
        # else is a bug or a backend failure: said the same way, never a crash.
        title = "not planned" if isinstance(error, LlmdeckError) else "failed"
        text = str(error) if isinstance(error, LlmdeckError) else describe(error)
        self.screen.notify(escape(text), title=title, severity="error", timeout=8)

    def _confirm(self, plan: Plan) -> None:
        def answered(confirmation: Confirmation | None) -> None:
            self._execute(plan, confirmation or Confirmation(False))

        self.screen.app.push_screen(ConfirmScreen(plan), answered)

    def _execute(self, plan: Plan, confirmation: Confirmation) -> None:
        session = self.screen.session
        self.screen.load(
            self.name, lambda: Pipeline(session).execute(plan, confirmation), self.report
        )

    def report(self, outcome: Outcome) -> None:
        """Notify ``outcome`` (the pipeline's own words), then call ``after``."""
        self.screen.notify(
            escape(outcome.message),
            title=outcome.status,
            severity=SEVERITY.get(outcome.status, "error"),  # type: ignore[arg-type]
            timeout=8,
        )
        self.after()
