"""Roll a route back: find the flags that route it, the last known good
prompt version from the store's history of flag states, and every change
that puts the route back on it (the flag's weights, and the registry
aliases that point at the versions being drained)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from connectors.errors import ConnectorError, InvalidChange, NotFound
from connectors.records import Flag
from console.actions.blast import moving_share
from console.actions.context import Context, alias_step, current_alias, flag_blast, flag_state
from console.actions.plan import Step


def settled(weights: Mapping[str, Any]) -> str | None:
    """The variant that carries all the traffic, or None for a split (a canary)."""
    full = [name for name, w in weights.items() if float(w) >= 99.99]
    return full[0] if len(full) == 1 else None


def last_known_good(ctx: Context, flag: Flag, current: Mapping[str, Any]) -> str | None:
    """The variant of the newest settled state in the history that differs from
    the current one: the version the route ran on before the change.

    A split state (a canary) is never "good"; rolling back a route that is
    already settled goes to the settled state before it, so a second rollback
    does not flip to the canary. Reads the store's flag snapshots (backdated
    for the demo, written by the pipeline after every flag write); None when
    it has nothing to offer.
    """
    try:
        rows = (
            ctx.session.store()
            .execute(
                "SELECT state FROM history WHERE kind = 'flag' AND key = ? "
                "ORDER BY ts DESC, id DESC",
                (flag.key,),
            )
            .fetchall()
        )
    except Exception:  # no workspace: no history to roll back to
        return None
    env = flag.env(ctx.environment)
    names = {v.name for v in env.variants} if env else set()
    now = settled(current.get("weights") or {})
    for (raw,) in rows:
        good = settled(orjson.loads(raw).get("weights") or {})
        if good and good != now and good in names:
            return good
    return None


def rollback_steps(ctx: Context, route: str) -> tuple[list[Step], list[str]]:
    """Every step that routes ``route`` back to its last known good version."""
    flags = [
        f for f in ctx.flags().flags() if f.metadata.get("route") == route and not f.is_kill_switch
    ]
    if not flags:
        raise NotFound(f"no flag routes {route!r}")
    steps: list[Step] = []
    notes: list[str] = []
    for flag in flags:
        before = flag_state(flag, ctx.environment)
        good = last_known_good(ctx, flag, before)
        if good is None:
            notes.append(f"{flag.key}: no earlier good state in the history; left as it is")
            continue
        env = flag.env(ctx.environment)
        values = {v.name: str(v.value) for v in env.variants} if env else {}
        weights = {name: (100.0 if name == good else 0.0) for name in before["weights"]}
        after = {**before, "enabled": True, "weights": weights}
        if after == before:
            notes.append(f"{flag.key}: already all on {good}")
            continue
        share = moving_share(before["weights"], weights) if before["enabled"] else 1.0
        blast = flag_blast(ctx, flag, share, f"{share:.0%} moving")
        steps.append(
            Step(
                "set_weights",
                flag.key,
                ctx.environment,
                before,
                after,
                blast,
                {"weights": weights, "enabled": True},
            )
        )
        notes.append(f"{flag.key}: last known good is {good} (prompt version {values.get(good)})")
        drained = {values[n] for n, w in before["weights"].items() if w > 0 and n != good}
        steps.extend(_alias_steps(ctx, flag, values.get(good, ""), drained, notes))
    if not steps:
        raise InvalidChange(f"nothing to roll back on {route}: " + "; ".join(notes))
    return steps, notes


def _alias_steps(
    ctx: Context, flag: Flag, good: str, drained: set[str], notes: list[str]
) -> list[Step]:
    """Move the aliases of the route's prompt that point at drained versions."""
    prompt = flag.metadata.get("prompt")
    reg = ctx.session.registry()
    if not prompt or not good or reg is None or "write" not in reg.capabilities:
        return []
    out = []
    try:
        for alias in reg.aliases(prompt):
            if alias.version in drained and current_alias(reg, prompt, alias.alias) != good:
                out.append(alias_step(ctx, reg, prompt, alias.alias, good))
    except ConnectorError as exc:
        notes.append(f"aliases of {prompt} not read: {exc}")
    return out
