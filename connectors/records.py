"""The canonical records that move from connectors to the console.

Every connector maps what its backend returns onto these frozen dataclasses,
so the console never sees a backend's own shapes. Times are timezone-aware
UTC ``datetime`` values unless a field says otherwise; money is US dollars;
durations are milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

Status = Literal["ok", "error", "blocked", "timeout"]
STATUSES: tuple[Status, ...] = ("ok", "error", "blocked", "timeout")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One logged LLM request, as DESIGN.md's canonical request record.

    Raw text may be absent (``messages`` empty, ``output`` None) when the
    gateway only kept hashes; ``prompt_hash``/``output_hash`` then still
    identify the content. ``tenant`` and ``user`` are always hashed.
    """

    request_id: str
    ts: datetime
    environment: str = "production"
    route: str = ""
    tenant: str = ""
    user: str = ""
    prompt_id: str = ""
    prompt_version: str = ""
    model_name: str = ""
    model_digest: str = ""
    provider: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] | None = None
    messages: tuple[Mapping[str, Any], ...] = ()
    retrieval: Mapping[str, Any] | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    output: str | None = None
    finish_reason: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    status: Status = "ok"
    error: str | None = None
    safety: Mapping[str, Any] | None = None
    refusal: bool = False
    system_fingerprint: str = ""
    flag_variant: str = ""
    trace_id: str = ""
    prompt_hash: str = ""
    output_hash: str = ""

    @property
    def has_content(self) -> bool:
        """True when the messages were logged, so the request can be replayed."""
        return bool(self.messages)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``ts`` as ISO 8601 with ``Z``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["ts"] = self.ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        out["params"] = dict(self.params)
        out["messages"] = [dict(m) for m in self.messages]
        out["tools"] = [dict(t) for t in self.tools]
        return out


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One time series: labels and (unix seconds, value) points, oldest first.

    Values may be NaN where the backend had no data for a step.
    """

    name: str
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Kpis:
    """The KPI strip's figures over one time range.

    Rates are fractions in [0, 1]; ``None`` means the backend had no data.
    ``errors`` names the fields whose own query failed (field -> one line), so
    one bad query leaves the other figures standing.
    """

    start: datetime
    end: datetime
    requests: int
    requests_per_min: float
    tokens_in_per_min: float
    tokens_out_per_min: float
    cost_per_hour: float
    latency_p95_ms: float | None
    error_rate: float | None
    block_rate: float | None
    refusal_rate: float | None
    errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PromptVersion:
    """One version of a prompt or a model in a registry.

    ``template`` holds a text prompt (``{{var}}`` placeholders); chat prompts
    carry ``messages`` instead. ``kind`` is ``"prompt"`` or ``"model"``.
    """

    name: str
    version: str
    kind: Literal["prompt", "model"] = "prompt"
    template: str | None = None
    messages: tuple[Mapping[str, str], ...] = ()
    model_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    description: str = ""
    author: str = ""
    created_at: datetime | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Alias:
    """A named pointer (alias, label, stage) from a prompt or model to a version."""

    name: str
    alias: str
    version: str


@dataclass(frozen=True, slots=True)
class Variant:
    """A flag variant and its weight (percent, 0-100) in one environment."""

    name: str
    weight: float
    value: Any = None


@dataclass(frozen=True, slots=True)
class FlagEnvironment:
    """A flag's state in one environment."""

    environment: str
    enabled: bool
    variants: tuple[Variant, ...] = ()
    default_variant: str | None = None
    strategies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Flag:
    """A feature flag or kill switch with its state per environment.

    ``kind`` follows Unleash's types (``release``, ``kill-switch``,
    ``experiment``, ``operational``, ``permission``). ``revision`` is an
    opaque token of the state it was read at, used for compare-and-swap.
    """

    key: str
    kind: str
    environments: tuple[FlagEnvironment, ...]
    description: str = ""
    project: str = ""
    last_changed: datetime | None = None
    last_changed_by: str = ""
    revision: str = ""
    # Free-form labels the backend keeps with the flag (flagd ``metadata``):
    # ``route``, ``prompt``, ``model`` tie a flag to the traffic it steers.
    metadata: Mapping[str, str] = field(default_factory=dict)

    def env(self, name: str) -> FlagEnvironment | None:
        """The state in environment ``name``, or None when the flag has none there."""
        return next((e for e in self.environments if e.environment == name), None)

    @property
    def is_kill_switch(self) -> bool:
        return self.kind == "kill-switch"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """Something that changed at a point in time: a flag flip, an alias move,
    a rollout or an audit entry; drawn as a marker on charts."""

    ts: datetime
    source: str
    what: str
    who: str = ""
    target: str = ""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One outcome of the write pipeline.

    ``outcome`` is one of ``cancelled``, ``refused``, ``conflict``,
    ``failed``, ``done``. ``before``/``after`` are JSON-ready states.
    """

    ts: datetime
    who: str
    profile: str
    environment: str
    action: str
    target: str
    outcome: str
    before: Any = None
    after: Any = None
    reason: str = ""
    detail: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One replay of a logged request against a target.

    ``verdict`` is ``identical``, ``similar``, ``different``, or
    ``not_replayable`` / ``failed`` with the reason in ``error``.
    ``similarity`` is in [0, 1].
    """

    replay_id: str
    request_id: str
    target: str
    ts: datetime
    request: Mapping[str, Any]
    output: str | None
    verdict: str
    similarity: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    system_fingerprint: str = ""
    distinct_outputs: int = 1
    prompt_version: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The gateway policy's answer for one request.

    ``allowed`` is None when the policy left ``allow`` undefined; ``denials``
    holds every denying rule's message.
    """

    allowed: bool | None
    denials: tuple[str, ...] = ()
    raw: Any = None


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """What ``ping`` found: whether the backend answered, its version, round trip."""

    ok: bool
    version: str = ""
    rtt_ms: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher of a silence, as Alertmanager's API has it: ``name``
    equals (``is_equal``) or differs from ``value``, a regular expression when
    ``is_regex`` (anchored at both ends, as in PromQL)."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @property
    def op(self) -> str:
        """The PromQL operator: ``=``, ``!=``, ``=~`` or ``!~``."""
        if self.is_regex:
            return "=~" if self.is_equal else "!~"
        return "=" if self.is_equal else "!="

    def __str__(self) -> str:
        value = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{value}"'

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with ``labels`` matches, as Alertmanager decides: a
        missing label is the empty string, a regex must match the whole value.
        Raises re.error for a regex that does not compile."""
        value = labels.get(self.name, "")
        hit = bool(re.fullmatch(self.value, value)) if self.is_regex else value == self.value
        return hit if self.is_equal else not hit


@dataclass(frozen=True, slots=True)
class ExternalAlert:
    """An alert the team's own alerting says is active (Prometheus rules,
    Alertmanager).

    ``state`` is ``firing`` or ``pending`` (Prometheus) or ``firing`` and
    ``suppressed`` (Alertmanager: silenced or inhibited, see ``silenced_by``);
    ``active_since`` is Prometheus' ``activeAt`` or Alertmanager's
    ``startsAt``; ``source`` the connector kind it came from; ``summary`` the
    ``summary`` annotation (else ``description``, else empty). ``value`` is
    the rule's value when the source reports it (Prometheus), else None.
    """

    name: str
    labels: Mapping[str, str]
    state: str
    active_since: datetime | None
    source: str
    summary: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    value: float | None = None
    fingerprint: str = ""
    silenced_by: tuple[str, ...] = ()
    ends: datetime | None = None


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence in Alertmanager: alerts matching every matcher are muted
    between ``starts`` and ``ends``. ``state`` is ``active``, ``pending``
    (starts in the future) or ``expired``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts: datetime
    ends: datetime
    created_by: str
    comment: str
    state: str
