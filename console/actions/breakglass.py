"""Break-glass: leaving read-only mode during a session.

Production profiles open read-only. Leaving that is itself an audited
action that needs a reason; the connectors built read-only are dropped so
that the next use builds them writable.
"""

from __future__ import annotations

from connectors.workspace.store import append_audit, ts_ms
from console.actions.plan import Outcome, OutcomeStatus
from console.core import clock
from console.core.errors import LlmdeckError
from console.core.session import Session


def leave_read_only(session: Session, reason: str) -> Outcome:
    """Make ``session`` writable for the rest of its life. Audited either way.

    Returns a ``done`` Outcome, or ``refused`` without a reason (the session
    then stays read-only).
    """
    reason = reason.strip()
    if not session.read_only:
        return Outcome("done", "the session is already writable")
    allowed = bool(reason) and not session.forced_read_only
    status: OutcomeStatus = "done" if allowed else "refused"
    if session.forced_read_only:
        message = "opened with --read-only: restart without it to write"
    else:
        message = "left read-only mode (break-glass)" if reason else "break-glass needs a reason"
    entry = {
        "ts": ts_ms(clock.now()),
        "who": session.user,
        "profile": session.profile.name,
        "environment": session.profile.environment,
        "action": "break_glass",
        "target": session.profile.name,
        "outcome": status,
        "before": {"read_only": True},
        "after": {"read_only": not allowed},
        "reason": reason,
        "detail": message,
    }
    try:
        audit_id = append_audit(session.store(), entry)
    except LlmdeckError as exc:
        # An unaudited break-glass is not allowed: stay read-only.
        return Outcome("refused", f"cannot leave read-only: audit log unavailable ({exc})")
    if allowed:
        session.read_only = False
        for capability in ("flags", "registry"):
            # Connectors built while read-only refuse writes themselves
            # (defence in depth); lift that on the ones already built.
            try:
                conn = session.connector(capability)
            except LlmdeckError:
                continue
            if conn is not None and hasattr(conn, "read_only"):
                conn.read_only = False
    return Outcome(status, message, None, audit_id)
