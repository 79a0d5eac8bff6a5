"""The plain records of the write pipeline: a plan of steps, the operator's
confirmation and the outcome. JSON-ready states only, so the audit log, the
CLI's ``--json`` and the confirmation modal all show the same thing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

OutcomeStatus = Literal["cancelled", "refused", "conflict", "failed", "done"]
OUTCOMES: tuple[OutcomeStatus, ...] = ("cancelled", "refused", "conflict", "failed", "done")


@dataclass(frozen=True, slots=True)
class Blast:
    """The share of current traffic a change affects.

    ``affected`` is an estimate of requests in the last ``window_s`` seconds
    whose handling changes, out of ``total`` requests; ``share`` is their
    ratio in [0, 1], or None when the request log cannot tell (``basis``
    says why).
    """

    affected: float
    total: int
    basis: str
    window_s: int = 3600

    @property
    def share(self) -> float | None:
        if self.total <= 0 or self.affected < 0:
            return None
        return min(1.0, self.affected / self.total)

    def describe(self) -> str:
        share = self.share
        if self.affected == 0 and self.total == 0:
            return f"none ({self.basis})"
        if share is None:
            return f"unknown ({self.basis})"
        return (
            f"{share:.1%} of traffic (~{self.affected:,.0f} of {self.total:,} req/h; {self.basis})"
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One atomic write of a plan.

    ``action`` is ``set_enabled``, ``set_weights``, ``move_alias`` or
    ``create_silence`` (``console.actions.steps`` says how each is read,
    written and verified); ``target`` a flag key, ``prompt:alias`` or matchers;
    ``before``/``after`` are the JSON-ready states compared on re-read
    (conflict) and after the write (verify); ``args`` what the connector is
    called with.
    """

    action: str
    target: str
    environment: str
    before: Any
    after: Any
    blast: Blast
    args: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.action} {self.target}: {fmt_state(self.before)} -> {fmt_state(self.after)}"


@dataclass(frozen=True, slots=True)
class Plan:
    """What a change will do, built from one read of the backends.

    ``confirm_words`` are the names a production operator may type to confirm
    (the target and the environment); ``created`` is when the plan was read.
    """

    action: str
    target: str
    title: str
    environment: str
    production: bool
    steps: tuple[Step, ...]
    blast: Blast
    created: datetime
    confirm_words: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def before(self) -> dict[str, Any]:
        return {s.target: s.before for s in self.steps}

    @property
    def after(self) -> dict[str, Any]:
        return {s.target: s.after for s in self.steps}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--dry-run --json`` and tests."""
        return {
            "action": self.action,
            "target": self.target,
            "title": self.title,
            "environment": self.environment,
            "production": self.production,
            "blast_share": self.blast.share,
            "blast": self.blast.describe(),
            "steps": [
                {"action": s.action, "target": s.target, "before": s.before, "after": s.after}
                for s in self.steps
            ],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The operator's answer: confirmed or not, the typed name and the reason."""

    confirmed: bool
    reason: str = ""
    typed: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a change ended, with the audit row written for it."""

    status: OutcomeStatus
    message: str
    plan: Plan | None = None
    audit_id: int | None = None
    # What the backends handed back for the steps written (a new silence's id).
    receipts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "done"


def fmt_state(state: Any) -> str:
    """A short human form of a JSON-ready state: ``on v13 50% v14 50%``; a
    composite (target -> state) reads ``flag: on v13 100%; prompt:alias: 13``."""
    if state is None:
        return "(none)"
    if isinstance(state, list | tuple):
        return ", ".join(str(s) for s in state) if state else "none"
    if not isinstance(state, Mapping):
        return str(state)
    if "enabled" in state or "weights" in state:
        parts = []
        if "enabled" in state:
            parts.append("on" if state["enabled"] else "off")
        weights = state.get("weights")
        if isinstance(weights, Mapping):
            parts.extend(f"{k} {_pct(v)}" for k, v in weights.items())
        return " ".join(parts)
    if state and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in state.values()
    ):
        return " ".join(f"{k} {_pct(v)}" for k, v in state.items())
    return "; ".join(f"{k}: {fmt_state(v)}" for k, v in state.items())


def _pct(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{f:g}%"
