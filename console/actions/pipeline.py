"""The write pipeline of DESIGN.md, the only code that writes to a backend:

1. refuse in read-only mode (the connectors refuse too);
2. plan: target, state before and after, blast radius;
3. confirm (the UI's modal or the CLI's flags; production needs the typed
   name and a reason);
4. re-read right before writing and abort on a conflict, write, re-read to
   verify;
5. audit every outcome: cancelled, refused, conflict, failed, done.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from connectors.errors import Conflict, ConnectorError, ReadOnlyError
from connectors.support.redact import scrub
from connectors.workspace.store import append_audit, snapshot_history, ts_ms
from console.actions import steps as step_io
from console.actions.blast import Traffic
from console.actions.changes import Change
from console.actions.context import Context
from console.actions.plan import Blast, Confirmation, Outcome, OutcomeStatus, Plan, Step
from console.core import clock
from console.core.errors import LlmdeckError
from console.core.session import Session

PINNED_REFUSAL = "the view is pinned to a past moment (--at is for reading; writes happen now)"


class ActionError(LlmdeckError):
    """A change could not be planned or was not done; ``outcome`` is what was audited."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class Pipeline:
    """Plans, confirms, writes and audits changes for one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- planning -------------------------------------------------------
    def _context(self) -> Context:
        try:
            store = self.session.store()
        except LlmdeckError:
            store = None
        return Context(self.session, Traffic(store))

    def plan(self, change: Change, *, dry_run: bool = False) -> Plan:
        """Read the current state and plan ``change`` (reads only, allowed read-only).

        Raises ActionError for an unknown flag, variant or version, weights
        that do not add up, nothing to roll back, or a backend error: audited
        as ``failed`` when the plan is for a write, not audited at all when
        ``dry_run`` (a dry run attempts no write, so there is no write attempt
        to record; its outcome has no ``audit_id``).
        """
        ctx = self._context()
        try:
            steps, notes = change.steps(ctx)
        except (LlmdeckError, ValueError) as exc:
            status: OutcomeStatus = "refused" if isinstance(exc, ReadOnlyError) else "failed"
            message = f"{change.title()}: {_line(exc)}"
            if dry_run:
                raise ActionError(Outcome(status, message)) from None
            outcome = self._audit(status, message, None, change=change)
            raise ActionError(outcome) from None
        affected = max((s.blast for s in steps), key=lambda b: b.affected, default=None)
        blast = affected or Blast(-1, 0, "no steps")
        if len(steps) > 1 and blast.share is not None:
            blast = Blast(blast.affected, blast.total, f"largest step: {blast.basis}")
        profile = self.session.profile
        return Plan(
            action=change.action,
            target=change.target,
            title=change.title(),
            environment=profile.environment,
            production=profile.is_production,
            steps=tuple(steps),
            blast=blast,
            created=clock.now(),
            confirm_words=change.confirm_words(ctx),
            notes=tuple(notes),
        )

    # -- confirming and writing -----------------------------------------
    def check_confirmation(self, plan: Plan, confirmation: Confirmation) -> str | None:
        """Why ``confirmation`` is not enough for ``plan`` (None when it is)."""
        return confirmation_problem(plan, confirmation)

    def execute(self, plan: Plan, confirmation: Confirmation) -> Outcome:
        """Carry out a confirmed plan. Never raises: every ending is an audited Outcome."""
        reason = confirmation.reason.strip()
        if self.session.read_only:
            return self._audit(
                "refused", f"{plan.title}: refused, the session is read-only", plan, reason
            )
        if self.session.view.pinned:
            # The operator decided on what the past showed; a write happens now.
            # The CLI and the screens refuse before planning; this is the backstop.
            return self._audit("refused", f"{plan.title}: refused, {PINNED_REFUSAL}", plan, reason)
        if not confirmation.confirmed:
            return self._audit("cancelled", f"{plan.title}: cancelled", plan, reason)
        problem = self.check_confirmation(plan, confirmation)
        if problem:
            return self._audit("refused", f"{plan.title}: {problem}", plan, reason)
        try:
            self.session.store()
        except LlmdeckError as exc:
            # No exceptions to the audit: without an audit log nothing is written.
            return Outcome("refused", f"{plan.title}: refused, no audit log ({exc})", plan)
        written = 0
        receipts: list[str] = []
        try:
            # Check every step before writing any, so a composite plan that
            # would conflict halfway writes nothing.
            for step in plan.steps:
                self._recheck(step)
            for step in plan.steps:
                expected = self._recheck(step)
                receipt = step_io.of(step).write(self.session, step, expected)
                if receipt:  # kept even if the verify fails: it was created
                    receipts.append(receipt)
                self._verify(step, receipt)
                self._remember(step)
                written += 1
        except Exception as exc:  # every ending must be audited, whatever broke
            status: OutcomeStatus = (
                "conflict"
                if isinstance(exc, Conflict)
                else "refused"
                if isinstance(exc, ReadOnlyError)
                else "failed"
            )
            # An LlmdeckError's text is already one clean line; anything else is a
            # bug whose text may quote anything, so it is scrubbed before the audit.
            what = (
                _line(exc)
                if isinstance(exc, LlmdeckError)
                else f"{type(exc).__name__}: {scrub(str(exc))}"
            )
            done = f" ({written} of {len(plan.steps)} steps done)" if written else ""
            kept = f" (created {', '.join(receipts)})" if receipts else ""
            outcome = self._audit(status, f"{plan.title}: {what}{done}{kept}", plan, reason)
            return replace(outcome, receipts=tuple(receipts))
        created = f" (created {', '.join(receipts)})" if receipts else ""
        outcome = self._audit("done", f"{plan.title}: done{created}", plan, reason)
        return replace(outcome, receipts=tuple(receipts))

    def run(
        self, change: Change, confirm: Callable[[Plan], Confirmation], reason: str = ""
    ) -> Outcome:
        """Plan, ask ``confirm``, execute: the whole pipeline for callers without a UI.

        Refuses (audited, with ``reason``: the operator's words are kept even
        when the write is refused) before planning when read-only. Raises
        nothing: a change that cannot be planned comes back as a ``failed``
        Outcome.
        """
        if self.session.read_only:
            return self._audit(
                "refused",
                f"{change.title()}: refused, the session is read-only",
                None,
                reason.strip(),
                change=change,
            )
        try:
            plan = self.plan(change)
        except ActionError as exc:
            return exc.outcome
        return self.execute(plan, confirm(plan))

    def _recheck(self, step: Step) -> Any:
        """Re-read ``step``'s target; raise Conflict if it moved since the plan.

        Returns what the connector needs as ``expected`` (the fresh Flag).
        """
        current, expected = self._read(step)
        if current != step.before:
            raise Conflict(
                f"{step.target} changed since the plan was made "
                f"(now {current!r}, planned from {step.before!r}); nothing overwritten"
            )
        return expected

    def _read(self, step: Step) -> tuple[Any, Any]:
        return step_io.of(step).read(self.session, step)

    def _verify(self, step: Step, receipt: str) -> None:
        io = step_io.of(step)
        if io.verify is not None:
            io.verify(self.session, step, receipt)
            return
        current, _ = io.read(self.session, step)
        if current != step.after:
            raise ConnectorError(
                f"{step.target}: written, but the re-read shows {current!r}, not {step.after!r}"
            )

    def _remember(self, step: Step) -> None:
        """Snapshot the new state so a later rollback knows what was good before.

        Best effort: the write is done and verified; a store that cannot take
        the snapshot must not turn it into a failure.
        """
        with contextlib.suppress(LlmdeckError, sqlite3.Error):
            self._snapshot(step)

    def _snapshot(self, step: Step) -> None:
        kind = step_io.of(step).history
        if not kind:
            return  # nothing a rollback reads (a silence expires by itself)
        store = self.session.store()
        source = getattr(
            self.session.registry() if kind == "alias" else self.session.flags(), "kind", ""
        )
        if kind == "flag":
            snapshot_history(store, kind, source, step.target, step.after, at=clock.now())
            return
        reg = self.session.registry()
        if reg is not None:
            name = step.args["name"]
            state = {a.alias: a.version for a in reg.aliases(name)}
            snapshot_history(store, kind, source, name, state, at=clock.now())

    # -- audit ----------------------------------------------------------
    def _audit(
        self,
        status: OutcomeStatus,
        message: str,
        plan: Plan | None,
        reason: str = "",
        change: Change | None = None,
    ) -> Outcome:
        """Append the audit row for an outcome and return the Outcome."""
        profile = self.session.profile
        entry = {
            "ts": ts_ms(clock.now()),
            "who": self.session.user,
            "profile": profile.name,
            "environment": profile.environment,
            "action": plan.action if plan else (change.action if change else ""),
            "target": plan.target if plan else (change.target if change else ""),
            "outcome": status,
            "before": plan.before if plan else None,
            "after": plan.after if plan else None,
            "reason": reason,
            "detail": message + (f" · blast {plan.blast.describe()}" if plan else ""),
        }
        audit_id = None
        try:
            audit_id = append_audit(self.session.store(), entry)
        except (LlmdeckError, sqlite3.Error) as exc:
            message += f" (not audited: {exc})"
        return Outcome(status, message, plan, audit_id)


def confirmation_problem(plan: Plan, confirmation: Confirmation) -> str | None:
    """Why ``confirmation`` is not enough for ``plan`` (None when it is): in
    production the operator types the target or environment name and a reason."""
    if not plan.production:
        return None
    if confirmation.typed.strip() not in plan.confirm_words:
        words = " or ".join(repr(w) for w in plan.confirm_words)
        return f"production: type {words} to confirm"
    if not confirmation.reason.strip():
        return "production: a reason is required"
    return None


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
