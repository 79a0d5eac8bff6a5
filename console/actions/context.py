"""What a change reads while planning, and the steps that several changes
share: the session and its stores, the traffic for blast radius, flag state
and alias steps. Shared by ``changes`` and ``rollback`` so neither imports the
other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import AlertSource, FlagStore, Registry
from connectors.errors import InvalidChange, NotFound, ReadOnlyError
from connectors.records import Flag
from console.actions.blast import Traffic
from console.actions.plan import Blast, Step
from console.core.session import Session


@dataclass
class Context:
    """What a change reads while planning: the session, its stores, traffic."""

    session: Session
    traffic: Traffic

    @property
    def environment(self) -> str:
        return self.session.profile.environment

    def flags(self) -> FlagStore:
        store = self.session.flags()
        if store is None:
            raise ReadOnlyError(f"profile {self.session.profile.name!r} has no flag store")
        return store

    def registry(self) -> Registry:
        reg = self.session.registry()
        if reg is None:
            raise ReadOnlyError(f"profile {self.session.profile.name!r} has no registry")
        return reg

    def silencer(self) -> AlertSource:
        return silencer(self.session)


def silencer(session: Session) -> AlertSource:
    """The profile's first alert source that can silence (an Alertmanager).

    Raises ReadOnlyError when it has none, LlmdeckError when it cannot be built.
    """
    for index in range(len(session.profile.alerting)):
        source = session.alert_source(index)
        if "silence" in source.capabilities:
            return source
    raise ReadOnlyError(
        f"profile {session.profile.name!r} has no alert source that can silence "
        "(add {kind: alertmanager, url: ...} to its alerting:)"
    )


def flag_state(flag: Flag, environment: str) -> dict[str, Any]:
    """The JSON-ready state of ``flag`` in ``environment``: enabled and weights (percent)."""
    env = flag.env(environment)
    if env is None:
        known = ", ".join(e.environment for e in flag.environments) or "none"
        raise NotFound(f"flag {flag.key!r} has no environment {environment!r} (has: {known})")
    return {
        "enabled": env.enabled,
        "weights": {v.name: round(float(v.weight), 2) for v in env.variants},
    }


def flag_blast(ctx: Context, flag: Flag, fraction: float, what: str) -> Blast:
    """The traffic ``flag`` steers (its route, or its model), times ``fraction``."""
    route, model = flag.metadata.get("route"), flag.metadata.get("model")
    if route:
        return ctx.traffic.blast({"route": route}, fraction, f"{what} of {route}")
    if model:
        return ctx.traffic.blast({"model_name": model}, fraction, f"{what} of {model}")
    return ctx.traffic.blast({}, fraction, "flag is not tied to a route or model")


def current_alias(reg: Registry, name: str, alias: str) -> str | None:
    return next((a.version for a in reg.aliases(name) if a.alias == alias), None)


def alias_step(ctx: Context, reg: Registry, name: str, alias: str, version: str) -> Step:
    reg.get(name, version)  # NotFound for an unknown prompt or version
    before = current_alias(reg, name, alias)
    if before == version:
        raise InvalidChange(f"{name}@{alias} already points at {version}")
    if before is None:
        blast = ctx.traffic.blast({}, 0.0, "new alias: no traffic uses it yet")
    else:
        blast = ctx.traffic.blast(
            {"prompt_id": name, "prompt_version": before}, 1.0, f"requests on {name} v{before}"
        )
    return Step(
        "move_alias",
        f"{name}:{alias}",
        ctx.environment,
        before,
        version,
        blast,
        {"name": name, "alias": alias, "version": version},
    )
