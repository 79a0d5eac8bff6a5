"""How the pipeline reads, writes and verifies each kind of step: one entry
per ``Step.action``, so a new kind of write is one entry here and its
``Change`` in ``changes``; the pipeline itself never names a backend.

Every entry's ``read`` returns the state compared with the plan's ``before``
(a conflict when it moved) and what the writer needs as ``expected`` (the
fresh Flag for compare-and-swap); ``write`` returns a receipt (a created
silence's id) or ""; ``verify`` checks the write took. Without its own
``verify``, an entry is verified by re-reading and comparing with ``after``.
``history`` names the store's snapshot kind for rollbacks ("" for none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import FlagStore, Registry
from connectors.errors import ConnectorError
from connectors.records import Matcher, Silence
from connectors.workspace import alert_marks
from console.actions.context import current_alias, flag_state, silencer
from console.actions.plan import Step
from console.core import clock
from console.core.session import Session

# A re-read silence may differ from the planned length by the request's round
# trip (Alertmanager stamps startsAt itself when it is in the past).
SILENCE_SLACK = timedelta(seconds=5)


@dataclass(frozen=True)
class StepIO:
    """Read, write and verify for one ``Step.action``."""

    read: Callable[[Session, Step], tuple[Any, Any]]
    write: Callable[[Session, Step, Any], str]
    verify: Callable[[Session, Step, str], None] | None = None
    history: str = ""


def of(step: Step) -> StepIO:
    """The entry for ``step.action``. Raises ValueError for an unknown action."""
    try:
        return ACTIONS[step.action]
    except KeyError:
        raise ValueError(f"unknown step action {step.action!r}") from None


# -- flags ------------------------------------------------------------------
def _flags(session: Session) -> FlagStore:
    store = session.flags()
    assert store is not None  # the plan read it
    return store


def _read_flag(session: Session, step: Step) -> tuple[Any, Any]:
    flag = _flags(session).flag(step.target)
    return flag_state(flag, step.environment), flag


def _write_enabled(session: Session, step: Step, expected: Any) -> str:
    _flags(session).set_enabled(
        step.target, step.environment, step.after["enabled"], expected=expected
    )
    return ""


def _write_weights(session: Session, step: Step, expected: Any) -> str:
    store = _flags(session)
    store.set_weights(step.target, step.environment, step.after["weights"], expected=expected)
    if step.after["enabled"] != step.before["enabled"]:
        fresh = store.flag(step.target)
        store.set_enabled(step.target, step.environment, step.after["enabled"], expected=fresh)
    return ""


# -- registry aliases ---------------------------------------------------------
def _registry(session: Session) -> Registry:
    reg = session.registry()
    assert reg is not None  # the plan read it
    return reg


def _read_alias(session: Session, step: Step) -> tuple[Any, Any]:
    return current_alias(_registry(session), step.args["name"], step.args["alias"]), None


def _write_alias(session: Session, step: Step, expected: Any) -> str:
    _registry(session).set_alias(step.args["name"], step.args["alias"], step.args["version"])
    return ""


# -- the console's own alerts (the workspace store is their backend) -----------
def _read_marks(session: Session, step: Step) -> tuple[Any, Any]:
    return alert_marks.marks(session.store(), step.args["key"]), None


def _write_ack(session: Session, step: Step, expected: Any) -> str:
    alert_marks.mark(session.store(), step.args["key"], who=step.after["acked_by"], now=clock.now())
    return ""


def _write_mute(session: Session, step: Step, expected: Any) -> str:
    until = datetime.fromisoformat(step.after["silenced_until"])
    alert_marks.mark(
        session.store(), step.args["key"], who=session.user, now=clock.now(), silence_until=until
    )
    return ""


# -- Alertmanager silences ----------------------------------------------------
def silence_matchers(step: Step) -> tuple[Matcher, ...]:
    return tuple(Matcher(**m) for m in step.args["matchers"])


def same_silences(silences: list[Silence], matchers: tuple[Matcher, ...]) -> list[str]:
    """Ids of the active silences with exactly ``matchers`` (in any order), sorted."""
    wanted = set(matchers)
    return sorted(s.id for s in silences if s.state == "active" and set(s.matchers) == wanted)


def _read_silences(session: Session, step: Step) -> tuple[Any, Any]:
    return same_silences(silencer(session).silences(), silence_matchers(step)), None


def _write_silence(session: Session, step: Step, expected: Any) -> str:
    # Wall time, not console.core.clock: a frozen or replayed clock must not
    # date a silence in a real Alertmanager.
    starts = datetime.now(UTC)
    return silencer(session).create_silence(
        silence_matchers(step),
        starts,
        starts + timedelta(seconds=float(step.args["duration_s"])),
        created_by=session.user,
        comment=step.args["comment"],
    )


def _verify_silence(session: Session, step: Step, silence_id: str) -> None:
    got = silencer(session).silence(silence_id)
    planned = timedelta(seconds=float(step.args["duration_s"]))
    problems = []
    if got.state != "active":
        problems.append(f"state {got.state}")
    if set(got.matchers) != set(silence_matchers(step)):
        problems.append("matchers " + ", ".join(str(m) for m in got.matchers))
    if abs((got.ends - got.starts) - planned) > SILENCE_SLACK:
        problems.append(f"length {got.ends - got.starts}")
    if got.comment != step.args["comment"]:
        problems.append("another comment")
    if problems:
        raise ConnectorError(
            f"silence {silence_id}: written, but the re-read shows {'; '.join(problems)}"
        )


# Steps that change what the console shows and who it pages, not the traffic:
# no change marker, no effect to measure.
ALERT_ACTIONS = frozenset({"ack_alert", "mute_alert", "create_silence"})

ACTIONS: dict[str, StepIO] = {
    "set_enabled": StepIO(_read_flag, _write_enabled, history="flag"),
    "set_weights": StepIO(_read_flag, _write_weights, history="flag"),
    "move_alias": StepIO(_read_alias, _write_alias, history="alias"),
    # The alerts table is its own history.
    "ack_alert": StepIO(_read_marks, _write_ack),
    "mute_alert": StepIO(_read_marks, _write_mute),
    "create_silence": StepIO(_read_silences, _write_silence, _verify_silence),
}
