"""The Flags screen's rows: flags with kill switches first, the state in the
profile's environment, weights, what they steer and the last change (from
the backend, else from the store's history of flag states)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.records import Flag
from connectors.workspace.store import from_ms
from console.actions.plan import fmt_state
from console.core.errors import LlmdeckError
from console.core.session import Session


@dataclass(frozen=True)
class FlagRow:
    """One flag as the table shows it; ``flag`` is the record for actions."""

    flag: Flag
    enabled: bool | None  # None: the flag has no state in this environment
    weights: str
    steers: str
    last_change: datetime | None
    last_by: str

    @property
    def key(self) -> str:
        return self.flag.key


def _last_changes(session: Session) -> dict[str, tuple[datetime, str]]:
    """When each flag last changed and who did it, from the store: the newest of
    its history snapshots (no author) and its audited, done writes (with one).
    Backends that keep no change log (a flagd file) still show both."""
    try:
        store = session.store()
        history = store.execute(
            "SELECT key, MAX(ts) FROM history WHERE kind = 'flag' GROUP BY key"
        ).fetchall()
        # SQLite returns the bare column (who) from the row holding MAX(ts).
        audited = store.execute(
            "SELECT target, MAX(ts), who FROM audit WHERE outcome = 'done' GROUP BY target"
        ).fetchall()
    except LlmdeckError:
        return {}
    out = {key: (from_ms(ts), "") for key, ts in history}
    for target, ts, who in audited:
        when = from_ms(ts)
        if target not in out or when >= out[target][0]:
            out[target] = (when, who)
    return out


def load(session: Session) -> list[FlagRow]:
    """Every flag of the session's flag store, kill switches first.

    Raises ConnectorError from the store; LlmdeckError when there is none.
    """
    store = session.flags()
    if store is None:
        raise LlmdeckError(f"profile {session.profile.name!r} has no flag store")
    env_name = session.profile.environment
    seen = _last_changes(session)
    rows = []
    for f in sorted(store.flags(), key=lambda f: (not f.is_kill_switch, f.key)):
        env = f.env(env_name) or (f.environments[0] if len(f.environments) == 1 else None)
        weights = {v.name: v.weight for v in env.variants} if env else {}
        shown = fmt_state({"weights": weights}) if not f.is_kill_switch else ""
        steers = f.metadata.get("route") or f.metadata.get("model") or f.description
        rows.append(
            FlagRow(
                f,
                env.enabled if env else None,
                shown,
                steers,
                f.last_changed or seen.get(f.key, (None, ""))[0],
                f.last_changed_by or seen.get(f.key, (None, ""))[1],
            )
        )
    return rows
