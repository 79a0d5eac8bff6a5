"""The changes the console can make. Each reads the current state and turns
itself into the atomic steps of a plan; validation happens here, before
anything is shown or written (unknown flag or variant, weights that do not
add up: InvalidChange or NotFound, with a one-line message)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import ClassVar

from connectors.errors import InvalidChange, NotFound
from connectors.records import Matcher
from console.actions.blast import moving_share
from console.actions.context import Context, alias_step, flag_blast, flag_state
from console.actions.plan import Blast, Step
from console.actions.rollback import rollback_steps
from console.actions.steps import same_silences

WEIGHT_TOLERANCE = 0.01  # percent


class Change(ABC):
    """A change an operator asks for; ``steps`` plans it from the current state."""

    action: ClassVar[str] = ""

    @property
    @abstractmethod
    def target(self) -> str:
        """What the change is about (flag key, route, prompt:alias, model)."""

    @abstractmethod
    def title(self) -> str:
        """One line for the confirmation modal and the CLI."""

    @abstractmethod
    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:
        """The atomic steps and notes for the plan.

        Raises NotFound (unknown flag, variant, version, route), InvalidChange
        (bad weights, nothing to change), ConnectorError from the reads.
        """

    def confirm_words(self, ctx: Context) -> tuple[str, ...]:
        """What a production operator may type to confirm: target or environment."""
        return (self.target, ctx.environment)


@dataclass(frozen=True)
class SetEnabled(Change):
    """Turn a flag on or off (tripping a kill switch is turning it on)."""

    flag: str
    enabled: bool
    action: ClassVar[str] = "set_enabled"

    @property
    def target(self) -> str:
        return self.flag

    def title(self) -> str:
        return f"turn {self.flag} {'on' if self.enabled else 'off'}"

    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:
        flag = ctx.flags().flag(self.flag)
        before = flag_state(flag, ctx.environment)
        after = {**before, "enabled": self.enabled}
        notes = []
        if before["enabled"] == self.enabled:
            raise InvalidChange(f"{self.flag} is already {'on' if self.enabled else 'off'}")
        if flag.is_kill_switch:
            notes.append("kill switch: " + ("TRIPS it" if self.enabled else "resets it"))
        blast = flag_blast(ctx, flag, 1.0, "all traffic")
        step = Step(
            "set_enabled",
            flag.key,
            ctx.environment,
            before,
            after,
            blast,
            {"enabled": self.enabled},
        )
        return [step], notes


def parse_weights(items: list[str]) -> dict[str, float]:
    """``["v13=90", "v14=10"]`` -> ``{"v13": 90.0, "v14": 10.0}``. Raises InvalidChange."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise InvalidChange(f"variant weight {item!r}: expected NAME=PERCENT") from None
    return out


@dataclass(frozen=True)
class SetWeights(Change):
    """Set a flag's variant weights (percent, adding up to 100)."""

    flag: str
    weights: Mapping[str, float] = field(default_factory=dict)
    action: ClassVar[str] = "set_weights"

    @property
    def target(self) -> str:
        return self.flag

    def title(self) -> str:
        spread = " ".join(f"{k}={v:g}" for k, v in self.weights.items())
        return f"set {self.flag} weights to {spread}"

    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:
        flag = ctx.flags().flag(self.flag)
        before = flag_state(flag, ctx.environment)
        weights = validate_weights(flag.key, before["weights"], self.weights)
        after = {**before, "weights": weights}
        if after == before:
            raise InvalidChange(f"{self.flag} already has these weights")
        share = moving_share(before["weights"], weights) if before["enabled"] else 0.0
        blast = flag_blast(ctx, flag, share, f"{share:.0%} moving")
        step = Step(
            "set_weights", flag.key, ctx.environment, before, after, blast, {"weights": weights}
        )
        notes = [] if before["enabled"] else [f"{self.flag} is off: weights apply once it is on"]
        return [step], notes


def validate_weights(
    key: str, current: Mapping[str, float], wanted: Mapping[str, float]
) -> dict[str, float]:
    """Wanted weights over every variant of the flag (omitted ones get 0),
    rounded to 0.1 percent.

    Raises NotFound for an unknown variant, InvalidChange for a negative
    weight or weights that do not add up to 100.
    """
    if not current:
        raise InvalidChange(f"{key} has no variants to weight")
    for name, weight in wanted.items():
        if name not in current:
            known = ", ".join(current)
            raise NotFound(f"{key}: unknown variant {name!r} (variants: {known})")
        if weight < 0 or weight != weight:
            raise InvalidChange(f"{key}: weight of {name!r} must be >= 0, not {weight:g}")
    # Steps of 0.1%: the finest split Unleash keeps (weights out of 1000), so
    # what is written is exactly what the verifying re-read finds.
    weights = {name: round(float(wanted.get(name, 0.0)), 1) for name in current}
    total = round(sum(weights.values()), 6)
    if abs(total - 100.0) > WEIGHT_TOLERANCE:
        raise InvalidChange(f"{key}: weights add up to {total:g}, not 100 (steps of 0.1)")
    return weights


@dataclass(frozen=True)
class MoveAlias(Change):
    """Point a registry alias at another version (promote or roll back)."""

    name: str
    alias: str
    version: str
    action: ClassVar[str] = "move_alias"

    @property
    def target(self) -> str:
        return f"{self.name}:{self.alias}"

    def title(self) -> str:
        return f"move {self.name}@{self.alias} to version {self.version}"

    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:
        reg = ctx.registry()
        return [alias_step(ctx, reg, self.name, self.alias, self.version)], []


@dataclass(frozen=True)
class BlockModel(Change):
    """Block (or unblock) a model: trip its kill switch in the flag store."""

    model: str
    blocked: bool = True
    action: ClassVar[str] = "block_model"

    @property
    def target(self) -> str:
        return self.model

    def title(self) -> str:
        return f"{'block' if self.blocked else 'unblock'} model {self.model}"

    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:
        flags = ctx.flags().flags()
        switch = next(
            (
                f
                for f in flags
                if f.is_kill_switch
                and (
                    f.metadata.get("model") == self.model
                    or f.key in (self.model, f"kill-{self.model}")
                )
            ),
            None,
        )
        if switch is None:
            raise NotFound(f"no kill switch blocks model {self.model!r}")
        steps, notes = SetEnabled(switch.key, self.blocked).steps(ctx)
        blast = ctx.traffic.blast({"model_name": self.model}, 1.0, f"all traffic to {self.model}")
        step = steps[0]
        return [
            Step(
                step.action,
                step.target,
                step.environment,
                step.before,
                step.after,
                blast,
                step.args,
            )
        ], notes


@dataclass(frozen=True)
class RollbackRoute(Change):
    """Route a route back to its last known good prompt version, in one plan."""

    route: str
    action: ClassVar[str] = "rollback_route"

    @property
    def target(self) -> str:
        return self.route

    def title(self) -> str:
        return f"roll back {self.route} to its last known good prompt version"

    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:

        return rollback_steps(ctx, self.route)

    def confirm_words(self, ctx: Context) -> tuple[str, ...]:
        return (self.route, ctx.environment)


_MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


def parse_matchers(items: list[str]) -> tuple[Matcher, ...]:
    """``["route=/support/chat", 'severity=~"page|ticket"']`` -> Matchers
    (``=``, ``!=``, ``=~``, ``!~``; the value may be double-quoted). Raises
    InvalidChange naming the bad item, or a regex that does not compile."""
    out = []
    for item in items:
        match = _MATCHER.match(item)
        if not match:
            raise InvalidChange(f"matcher {item!r}: expected NAME=VALUE (or !=, =~, !~)")
        name, op, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if "~" in op:
            try:
                re.compile(value)
            except re.error as exc:
                raise InvalidChange(f"matcher {item!r}: bad regular expression: {exc}") from None
        out.append(Matcher(name, value, is_regex="~" in op, is_equal=op[0] == "="))
    return tuple(out)


def _span(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class SilenceAlert(Change):
    """Silence the alerts matching every matcher in the profile's
    Alertmanager for ``duration``, with ``comment`` (Alertmanager requires one).

    The plan lists the alerts it silences now, read from Alertmanager; its
    ``before`` is the active silences with exactly these matchers (a conflict
    when another appears before the write), its ``after`` the silence asked for.
    """

    matchers: tuple[Matcher, ...]
    duration: timedelta
    comment: str
    action: ClassVar[str] = "create_silence"

    @property
    def target(self) -> str:
        return ", ".join(str(m) for m in self.matchers)

    def title(self) -> str:
        return f"silence {self.target} for {_span(self.duration)}"

    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:
        if not self.matchers:
            raise InvalidChange("a silence needs at least one matcher (--matcher NAME=VALUE)")
        if self.duration.total_seconds() < 60:
            raise InvalidChange("a silence lasts at least a minute")
        if not self.comment.strip():
            raise InvalidChange("a silence needs a comment: say why (--reason)")
        source = ctx.silencer()
        muted = [a for a in source.alerts() if all(m.matches(a.labels) for m in self.matchers)]
        before = same_silences(source.silences(), self.matchers)
        notes = (
            [f"silences {len(muted)} alert(s) active now"]
            if muted
            else ["matches no active alert now: it mutes the ones that fire before it ends"]
        )
        for alert in muted[:10]:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
            notes.append(f"  {alert.state}: {alert.name} {{{labels}}}")
        if len(muted) > 10:
            notes.append(f"  ... and {len(muted) - 10} more")
        if before:
            notes.append(f"already silenced by {', '.join(before)}: this adds another silence")
        total = ctx.traffic.total()
        blast = Blast(0, total, "a silence mutes notifications; no traffic changes")
        after = {
            "matchers": [str(m) for m in self.matchers],
            "for": _span(self.duration),
            "comment": self.comment,
        }
        step = Step(
            "create_silence",
            self.target,
            ctx.environment,
            before,
            after,
            blast,
            {
                "matchers": [asdict(m) for m in self.matchers],
                "duration_s": self.duration.total_seconds(),
                "comment": self.comment,
            },
        )
        return [step], notes


def _alert_step(ctx: Context, key: str, after_marks: dict[str, object], action: str) -> Step:
    from connectors.workspace import alert_marks

    store = ctx.session.store()
    before = alert_marks.marks(store, key)
    if before.get("recorded") is False:
        raise NotFound(f"no alert {key!r} recorded in this workspace")
    after = {**before, **after_marks}
    if after == before:
        raise InvalidChange(f"alert {key!r} is already so")
    blast = Blast(0, 0, "changes no traffic: only what the console shows and who it pages")
    return Step(action, key, ctx.environment, before, after, blast, {"key": key})


@dataclass(frozen=True)
class AckAlert(Change):
    """Acknowledge one of the console's alerts: someone is on it (it keeps firing)."""

    key: str
    who: str
    action: ClassVar[str] = "ack_alert"

    @property
    def target(self) -> str:
        return self.key

    def title(self) -> str:
        return f"acknowledge alert {self.key}"

    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:
        return [_alert_step(ctx, self.key, {"acked_by": self.who}, self.action)], []


@dataclass(frozen=True)
class MuteAlert(Change):
    """Silence one of the console's alerts until ``until`` (ISO 8601, UTC): it is
    still evaluated and recorded, but leaves the banner and stops counting as firing."""

    key: str
    until: str
    action: ClassVar[str] = "mute_alert"

    @property
    def target(self) -> str:
        return self.key

    def title(self) -> str:
        return f"silence alert {self.key} until {self.until}"

    def steps(self, ctx: Context) -> tuple[list[Step], list[str]]:
        return [_alert_step(ctx, self.key, {"silenced_until": self.until}, self.action)], []
