"""The policy check: a logged request evaluated by the profile's policy."""

from __future__ import annotations

from connectors.base import PolicyEngine
from connectors.records import PolicyDecision, RequestRecord
from console.core.errors import LlmdeckError
from console.core.session import Session


def check(session: Session, rec: RequestRecord) -> PolicyDecision:
    """Evaluate ``rec`` (as its JSON record) with the profile's policy.

    Raises LlmdeckError when the profile has no policy or it cannot be evaluated.
    """
    engine = session.connector("policy")
    if engine is None:
        raise LlmdeckError(f"profile {session.profile.name!r} configures no policy")
    assert isinstance(engine, PolicyEngine)
    return engine.evaluate(rec.to_dict())


def verdict(d: PolicyDecision) -> str:
    """``allow``, ``deny`` or ``undefined`` (the policy left ``allow`` undefined)."""
    if d.allowed is None:
        return "undefined"
    return "allow" if d.allowed else "deny"


def lines(d: PolicyDecision) -> list[str]:
    """The decision as lines: the verdict, then every denying rule's message."""
    out = [verdict(d)]
    out += [f"  deny: {msg}" for msg in d.denials]
    return out
