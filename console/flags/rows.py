"""The Flags screen's rows: flags with kill switches first, the state in the
profile's environment, weights, what they steer and the last change (from
the backend, else from the store's history of flag states). Pinned (``--at``),
the state is the one the store's history recorded last before the pinned
moment, where it recorded one: the backends keep no past of their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from connectors.records import Flag
from connectors.workspace.store import from_ms, ts_ms
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
    # Pinned (--at): when the shown state was recorded (the store's history);
    # None shows the backend's state now, the only one known.
    recorded_at: datetime | None = None

    @property
    def key(self) -> str:
        return self.flag.key


def _last_changes(session: Session, until: int) -> dict[str, tuple[datetime, str]]:
    """When each flag last changed before ``until`` (ms) and who did it, from the
    store: the newest of its history snapshots (no author) and its audited, done
    writes (with one). Backends that keep no change log (a flagd file) still show both."""
    try:
        store = session.store()
        history = store.execute(
            "SELECT key, MAX(ts) FROM history WHERE kind = 'flag' AND ts < ? GROUP BY key",
            (until,),
        ).fetchall()
        # SQLite returns the bare column (who) from the row holding MAX(ts).
        audited = store.execute(
            "SELECT target, MAX(ts), who FROM audit WHERE outcome = 'done' AND ts < ? "
            "GROUP BY target",
            (until,),
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
    at = session.view.at
    seen = _last_changes(session, ts_ms(at) if at else 2**62)
    recorded = _recorded(session, at) if at else {}
    rows = []
    for f in sorted(store.flags(), key=lambda f: (not f.is_kill_switch, f.key)):
        env = f.env(env_name) or (f.environments[0] if len(f.environments) == 1 else None)
        enabled = env.enabled if env else None
        weights = {v.name: v.weight for v in env.variants} if env else {}
        last, by = f.last_changed, f.last_changed_by
        if at is not None and last is not None and last >= at:
            last, by = None, ""  # the backend's last change came after the pinned moment
        when, state = recorded.get(f.key, (None, {}))
        if isinstance(state.get("enabled"), bool):
            enabled = state["enabled"]
        if isinstance(state.get("weights"), dict):
            weights = {str(k): float(v) for k, v in state["weights"].items()}
        shown = fmt_state({"weights": weights}) if not f.is_kill_switch else ""
        steers = f.metadata.get("route") or f.metadata.get("model") or f.description
        rows.append(
            FlagRow(
                f,
                enabled,
                shown,
                steers,
                last or seen.get(f.key, (None, ""))[0],
                by or seen.get(f.key, (None, ""))[1],
                when,
            )
        )
    return rows


def _recorded(session: Session, at: datetime) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """Each flag's state as the store's history last recorded it before ``at``."""
    try:
        rows = (
            session.store()
            .execute(
                "SELECT key, ts, state FROM history WHERE kind = 'flag' AND ts < ? ORDER BY ts, id",
                (ts_ms(at),),
            )
            .fetchall()
        )
    except LlmdeckError:
        return {}
    out: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for key, ts, raw in rows:
        try:
            state = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(state, dict):
            out[key] = (from_ms(ts), state)
    return out
