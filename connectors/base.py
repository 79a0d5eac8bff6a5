"""One small interface per capability.

A profile picks one connector per capability. Each connector declares what it
can do in ``capabilities`` and the console offers only that: a read-only flag
source never shows a toggle key. Optional methods have safe defaults that say
"not supported" instead of failing.

Every method may raise the errors in ``connectors.errors``; the docstrings
name the ones that matter. Connectors are constructed with their options from
the profile (secrets already resolved to plain strings) as keyword arguments;
each declares those options in ``OPTIONS`` (see ``connectors.options``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.errors import ReadOnlyError
from connectors.options import Option
from connectors.records import (
    Alias,
    BackendStatus,
    ChangeEvent,
    ExternalAlert,
    Flag,
    Kpis,
    Matcher,
    MetricSeries,
    PolicyDecision,
    PromptVersion,
    RequestRecord,
    Silence,
)

# Logical signals a metrics source serves; Prometheus maps each onto PromQL.
SIGNALS: tuple[str, ...] = (
    "requests",  # requests per minute
    "tokens_in",  # input tokens per minute
    "tokens_out",  # output tokens per minute
    "cost",  # dollars per hour
    "latency_p50",
    "latency_p95",
    "latency_p99",  # milliseconds
    "error_rate",
    "block_rate",
    "refusal_rate",  # fractions
    "output_tokens",  # mean output tokens per request
)
GROUPINGS: tuple[str, ...] = ("none", "model", "prompt_version", "route", "tenant")


class Connector(ABC):  # noqa: B024 - every method has a safe default
    """What every connector has: a kind, capabilities and a health check."""

    kind: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})
    # What a profile may set (connectors.options). None: not declared, so the
    # loader passes options through unchecked (third-party connectors that
    # predate declarations) and the constructor is the only check.
    OPTIONS: ClassVar[tuple[Option, ...] | None] = None

    def ping(self) -> BackendStatus:
        """Check that the backend answers. Never raises: failures are in the status."""
        return BackendStatus(ok=True, detail="no health check")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sockets and files. Safe to call twice."""


class MetricsSource(Connector):
    """Instant and range figures for the live panels."""

    def configure_panels(self, panels: Mapping[str, Any] | None) -> None:
        """Apply the profile's ``panels:`` overrides (query templates per panel).

        Sources without queries to override ignore them. Raises ValueError
        naming the panel when an override cannot be used.
        """

    def oldest_late_sample(self) -> float | None:
        """Unix seconds of the oldest sample that arrived since the last call
        but is stamped in the past (a backfill), or None when nothing did or
        the source cannot tell. Caches use it to re-read steps they took as final."""
        return None

    @abstractmethod
    def kpis(self, start: datetime, end: datetime) -> Kpis:
        """The KPI strip over [start, end). Raises BackendUnavailable, QueryError."""

    @abstractmethod
    def series(
        self, signal: str, start: datetime, end: datetime, step_s: int, group_by: str = "none"
    ) -> list[MetricSeries]:
        """One series per group value for ``signal`` (one of SIGNALS), a point per
        step of [start, end).

        Raises ValueError for an unknown signal or grouping, BackendUnavailable,
        QueryError.
        """

    def newest(
        self, signal: str, at: datetime, lookback: timedelta, group_by: str = "none"
    ) -> dict[str, datetime]:
        """When ``signal`` last had data at or before ``at``, per group value
        (``""`` when ungrouped), looking back ``lookback``: the time of the newest
        point with a value (not NaN), and for ``requests`` with at least one
        request. A group with no data in (at - lookback, at] is left out, so an
        empty dict means "no data in the lookback".

        This default reads ``series`` over the lookback a minute a step, which
        is right but as costly as a chart of that range; sources override it
        with a cheaper query. Accurate to a step: the end of the newest step
        with data. Raises as ``series``.
        """
        step = 60
        out: dict[str, datetime] = {}
        for s in self.series(signal, at - lookback, at, step, group_by):
            key = "" if group_by == "none" else str(s.labels.get(group_by, ""))
            for t, v in reversed(s.points):
                if math.isnan(v) or (signal == "requests" and v <= 0):
                    continue
                when = datetime.fromtimestamp(min(t + step, at.timestamp()), UTC)
                if key not in out or when > out[key]:
                    out[key] = when
                break
        return out

    def slow_share(
        self,
        threshold_ms: float,
        start: datetime,
        end: datetime,
        step_s: int,
        group_by: str = "none",
    ) -> list[MetricSeries]:
        """The share of requests slower than ``threshold_ms`` per step and group
        (a latency SLO's bad share). Raises ValueError when the source cannot tell."""
        raise ValueError(
            f"{self.kind or 'this'} metrics source cannot count requests slower than a threshold"
        )


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """Which requests to read. Empty fields do not filter.

    ``text`` is a full-text query over messages and output. ``order`` is one of
    ``ts``, ``latency_ms``, ``cost_usd``, ``tokens_out``, newest/largest first.
    """

    since: datetime | None = None
    until: datetime | None = None
    route: str = ""
    tenant: str = ""
    model: str = ""
    prompt_id: str = ""
    prompt_version: str = ""
    status: str = ""
    refusal: bool | None = None
    blocked: bool | None = None
    text: str = ""
    order: str = "ts"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of requests and the cursor of the next (None at the end)."""

    records: tuple[RequestRecord, ...]
    next_cursor: str | None


class RequestLog(Connector):
    """Time-windowed, filtered, paginated reads of logged requests."""

    @abstractmethod
    def page(self, flt: RequestFilter, limit: int = 50, cursor: str | None = None) -> Page:
        """A page of requests matching ``flt`` in its order, starting after ``cursor``."""

    @abstractmethod
    def get(self, request_id: str) -> RequestRecord:
        """One request in full. Raises NotFound (AmbiguousId, a NotFound, when a
        source that accepts id prefixes, like the workspace, matches several)."""


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One prompt or model in a listing: its newest version and current aliases.

    ``aliases`` maps alias -> version; ``updated`` is when anything last changed
    (None when unknown).
    """

    name: str
    kind: str
    latest: str
    aliases: Mapping[str, str]
    updated: datetime | None = None
    description: str = ""


class Registry(Connector):
    """Prompts and models, their versions and aliases."""

    # Entries that could not be read, one line each; connectors replace it with
    # their own list as they read.
    errors: Sequence[str] = ()

    @abstractmethod
    def names(self, kind: str = "prompt") -> list[str]:
        """Names of prompts (``kind="prompt"``) or models (``kind="model"``)."""

    def entries(self, kind: str = "prompt") -> list[RegistryEntry]:
        """Every prompt or model with its newest version and aliases, by name.

        Backends that list these in one search override this; the default reads
        each name's versions. Raises BackendUnavailable, AuthError.
        """
        out = []
        for name in self.names(kind):
            versions = self.versions(name)
            aliases = {a: v.version for v in versions for a in v.aliases}
            newest = versions[-1] if versions else None
            out.append(
                RegistryEntry(
                    name,
                    kind,
                    newest.version if newest else "",
                    aliases,
                    newest.created_at if newest else None,
                    newest.description if newest else "",
                )
            )
        return out

    def problems(self) -> list[str]:
        """One-line complaints about entries that could not be read (broken
        files, malformed tags); the rest of the registry still works."""
        return list(self.errors)

    @abstractmethod
    def versions(self, name: str) -> list[PromptVersion]:
        """Every version of ``name``, oldest first. Raises NotFound."""

    def get(self, name: str, ref: str) -> PromptVersion:
        """Version ``ref`` of ``name``, where ``ref`` is a version or an alias.

        Raises NotFound for an unknown name, version or alias.
        """
        from connectors.errors import NotFound

        versions = self.versions(name)
        for v in versions:
            if v.version == ref or ref in v.aliases:
                return v
        raise NotFound(f"{name}@{ref}: no such version or alias")

    def aliases(self, name: str) -> list[Alias]:
        """The current aliases of ``name``."""
        return [Alias(name, a, v.version) for v in self.versions(name) for a in v.aliases]

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``. Needs the ``write`` capability."""
        raise ReadOnlyError(f"{self.kind} registry is read-only")


class FlagStore(Connector):
    """Feature flags and kill switches."""

    def __init__(self, *, read_only: bool = False) -> None:
        self.read_only = read_only

    @abstractmethod
    def flags(self) -> list[Flag]:
        """Every flag, with its state per environment."""

    def flag(self, key: str) -> Flag:
        """One flag. Raises NotFound."""
        from connectors.errors import NotFound

        for f in self.flags():
            if f.key == key:
                return f
        raise NotFound(f"flag {key!r} does not exist")

    def set_enabled(self, key: str, environment: str, enabled: bool, *, expected: Flag) -> None:
        """Turn ``key`` on or off in ``environment``.

        ``expected`` is the state the change was planned from: raises Conflict
        (writing nothing) when the flag no longer matches it, ReadOnlyError,
        NotFound, ChangeRequestRequired.
        """
        raise ReadOnlyError(f"{self.kind} flags are read-only")

    def set_weights(
        self, key: str, environment: str, weights: Mapping[str, float], *, expected: Flag
    ) -> None:
        """Set variant weights (percent, summing to 100). Raises InvalidChange, as above."""
        raise ReadOnlyError(f"{self.kind} flags are read-only")

    def events(self, since: datetime | None = None) -> list[ChangeEvent]:
        """The backend's own change log, oldest first (empty if it keeps none)."""
        return []

    def check_writable(self) -> None:
        """Defence in depth: the connector refuses writes itself when read-only."""
        if self.read_only or "write" not in self.capabilities:
            raise ReadOnlyError(f"{self.kind} flag store is read-only")


@dataclass(frozen=True, slots=True)
class Completion:
    """What a replay target answered."""

    text: str
    finish_reason: str
    tokens_in: int
    tokens_out: int
    latency_ms: float
    system_fingerprint: str = ""
    model: str = ""
    raw: Mapping[str, Any] | None = None


class ReplayTarget(Connector):
    """An OpenAI-compatible chat-completions endpoint."""

    production: bool = False

    @abstractmethod
    async def complete(
        self, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any], model: str
    ) -> Completion:
        """Send one chat completion with exactly these parameters (seed included).

        Raises BackendUnavailable (down, timeout, 5xx/429 after retries),
        AuthError, InvalidResponse.
        """


class PolicyEngine(Connector):
    """The gateway's policy, evaluated against one request."""

    @abstractmethod
    def evaluate(self, request: Mapping[str, Any]) -> PolicyDecision:
        """Allow or deny, with every denying rule's message."""


class AlertSource(Connector):
    """What the team's own alerting says is active: Prometheus' rule alerts,
    Alertmanager's received alerts and, where the backend keeps them, silences.

    A source that can silence declares the ``silence`` capability; the others
    keep the defaults below, which refuse.
    """

    def __init__(self, *, read_only: bool = False) -> None:
        self.read_only = read_only

    @abstractmethod
    def alerts(self) -> list[ExternalAlert]:
        """Every active alert (firing, pending or suppressed), in the backend's
        order. Raises BackendUnavailable, AuthError, InvalidResponse."""

    def silences(self) -> list[Silence]:
        """Every silence the backend keeps, expired ones included (empty when it keeps none)."""
        return []

    def silence(self, silence_id: str) -> Silence:
        """One silence by id. Raises NotFound."""
        from connectors.errors import NotFound

        for s in self.silences():
            if s.id == silence_id:
                return s
        raise NotFound(f"{self.kind}: no silence {silence_id!r}")

    def create_silence(
        self,
        matchers: Sequence[Matcher],
        starts: datetime,
        ends: datetime,
        *,
        created_by: str,
        comment: str,
    ) -> str:
        """Create a silence and return its id. Needs the ``silence`` capability.

        Raises ReadOnlyError (opened read-only, or the backend cannot silence),
        InvalidChange (the backend refused the matchers or times),
        BackendUnavailable, AuthError.
        """
        raise ReadOnlyError(f"{self.kind} alert source cannot silence")

    def check_writable(self) -> None:
        """Defence in depth: the connector refuses writes itself when read-only."""
        if self.read_only or "silence" not in self.capabilities:
            raise ReadOnlyError(f"{self.kind} alert source is read-only")
