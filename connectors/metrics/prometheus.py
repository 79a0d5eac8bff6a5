"""The metrics capability over the Prometheus HTTP API.

Only ``/api/v1/query``, ``/api/v1/query_range`` and ``/api/v1/status/buildinfo``
are used, so the same connector reaches Thanos, Mimir, Cortex and
VictoriaMetrics unchanged. Panels are PromQL templates from one of three
naming schemes (``connectors.metrics.promql_schemes``), with per-panel overrides.

Every failure becomes one ``connectors.errors`` exception with a one-line
message that names what failed and never contains a credential.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from connectors.base import GROUPINGS, SIGNALS, MetricsSource
from connectors.errors import (
    ConnectorError,
    EmptyResult,
    InvalidResponse,
    QueryError,
)
from connectors.metrics.promql_schemes import Scheme, scheme
from connectors.options import Option
from connectors.records import BackendStatus, Kpis, MetricSeries
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember

# Steps a chart may use, seconds: the smallest that keeps a range under
# MAX_POINTS points (Prometheus refuses more than 11,000 per series).
NICE_STEPS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_POINTS = 240
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# The signals the KPI strip reads.
KPI_SIGNALS = (
    "requests",
    "tokens_in",
    "tokens_out",
    "cost",
    "latency_p95",
    "error_rate",
    "block_rate",
    "refusal_rate",
)
# Resolution of ``newest``: the subquery step, seconds (a day is 1,440 steps).
NEWEST_STEP_S = 60


def step_for(start: datetime, end: datetime, max_points: int = MAX_POINTS) -> int:
    """A chart step in seconds for [start, end): the smallest nice step with at most
    ``max_points`` points."""
    span = max(1.0, (end - start).total_seconds())
    return next((s for s in NICE_STEPS if span / s <= max_points), NICE_STEPS[-1])


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class PrometheusMetrics(MetricsSource):
    """Prometheus (or anything that answers its HTTP API) as a metrics source.

    Options: ``url``; ``token`` (bearer) or ``username``/``password`` (basic),
    already resolved from secrets; ``scheme`` (playbook, otel-genai, litellm);
    ``panels`` (signal -> PromQL overrides); ``timeout`` seconds per request;
    ``retries`` after the first try on connection errors, timeouts, 429 and
    502-504, with exponential ``backoff`` seconds (Retry-After honoured, at
    most 5 s); ``verify`` TLS.
    """

    kind = "prometheus"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="server root, e.g. https://prom.internal"),
        Option("token", str, None, "bearer token", secret=True),
        Option("username", str, None, "basic-auth user (with password)"),
        Option("password", str, None, "basic-auth password", secret=True),
        Option("scheme", str, "playbook", "metric naming: playbook, otel-genai or litellm"),
        Option("panels", dict, None, "signal -> PromQL overrides"),
        Option("timeout", float, 10.0, "seconds per request"),
        Option("retries", int, 2, "retries on connection errors, timeouts, 429, 502-504"),
        Option("backoff", float, 0.3, "first retry delay in seconds, doubled each time"),
        Option("verify", bool, True, "verify the server's TLS certificate"),
        *http.LIMIT_OPTIONS,
    )

    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        scheme: str = "playbook",
        panels: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.3,
        verify: bool = True,
        deadline: float | None = None,
        max_body_mb: float | None = None,
    ) -> None:
        if not url:
            raise ValueError("prometheus connector needs a url")
        remember(token, password, url)
        self.url = str(url).rstrip("/")
        self.where = redact_url(self.url)
        self.backend = f"prometheus {self.where}"
        self.limits = Limits.from_options(deadline, max_body_mb, default_deadline=30.0)
        self.scheme_name = scheme
        self.scheme: Scheme = _scheme(scheme, panels)
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        headers = {"Accept": "application/json"}
        auth: httpx.BasicAuth | None = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif username is not None:
            auth = httpx.BasicAuth(str(username), str(password or ""))
        self._client = http.client(
            self.url, timeout=float(timeout), headers=headers, auth=auth, verify=verify
        )

    def configure_panels(self, panels: Mapping[str, Any] | None) -> None:
        """Apply a profile's ``panels:`` section: ``scheme`` picks the naming
        scheme, every other key overrides that signal's PromQL. Raises ValueError."""
        if not panels:
            return
        overrides = {str(k): str(v) for k, v in panels.items() if k != "scheme"}
        self.scheme_name = str(panels.get("scheme", self.scheme_name))
        self.scheme = _scheme(self.scheme_name, {**self.scheme.signals, **overrides})

    def close(self) -> None:
        self._client.close()

    # -- raw API ---------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any], what: str) -> Any:
        """GET with retries; the ``data`` of a successful answer. Raises ConnectorError."""
        answer = http.send(
            self._client,
            "GET",
            path,
            backend=self.backend,
            what=what,
            limits=self.limits,
            retries=self.retries,
            retry_statuses=RETRY_STATUSES,
            retry_errors=True,
            backoff=self.backoff,
            params=dict(params),
        )
        body = http.check(answer, backend=self.backend, what=what)
        # A 200 is not enough: the API says success or error in the body.
        if body.get("status") != "success":
            kind = body.get("errorType", f"HTTP {answer.status_code}")
            message = _one_line(body.get("error", "no error message"))
            raise QueryError(f"{self.backend}: {what}: {kind}: {message}")
        data = body.get("data")
        if not isinstance(data, dict) or ("result" not in data and what != "buildinfo"):
            raise InvalidResponse(f"{self.backend}: {what}: answer has no data.result")
        return data

    def query(
        self, promql: str, at: datetime, what: str = "query"
    ) -> list[tuple[dict[str, str], float]]:
        """Instant query at ``at``: (labels, value) per series, NaN kept.

        Raises QueryError (PromQL rejected), InvalidResponse (unreadable, +-Inf),
        BackendUnavailable, AuthError.
        """
        data = self._get("/api/v1/query", {"query": promql, "time": at.timestamp()}, what)
        if data.get("resultType") == "scalar":
            return [({}, self._value(data["result"], what))]
        if data.get("resultType") != "vector":
            raise InvalidResponse(
                f"prometheus {self.where}: {what}: expected a vector, got {data.get('resultType')}"
            )
        try:
            return [
                (
                    {str(k): str(v) for k, v in item["metric"].items()},
                    self._value(item["value"], what),
                )
                for item in data["result"]
            ]
        except (KeyError, TypeError, AttributeError):
            raise InvalidResponse(f"prometheus {self.where}: {what}: malformed vector") from None

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: int, what: str = "query_range"
    ) -> list[tuple[dict[str, str], tuple[tuple[float, float], ...]]]:
        """Range query: (labels, ((unix s, value), ...)) per series. Same raises as query."""
        params = {
            "query": promql,
            "start": start.timestamp(),
            "end": end.timestamp(),
            "step": step_s,
        }
        data = self._get("/api/v1/query_range", params, what)
        if data.get("resultType") != "matrix":
            raise InvalidResponse(
                f"prometheus {self.where}: {what}: expected a matrix, got {data.get('resultType')}"
            )
        try:
            return [
                (
                    {str(k): str(v) for k, v in item["metric"].items()},
                    tuple((float(p[0]), self._value(p, what)) for p in item["values"]),
                )
                for item in data["result"]
            ]
        except (KeyError, TypeError, AttributeError, ValueError):
            raise InvalidResponse(f"prometheus {self.where}: {what}: malformed matrix") from None

    def _value(self, pair: Any, what: str) -> float:
        try:
            value = float(pair[1])
        except (TypeError, ValueError, IndexError):
            raise InvalidResponse(
                f"prometheus {self.where}: {what}: value is not a number"
            ) from None
        if math.isinf(value):
            raise InvalidResponse(
                f"prometheus {self.where}: {what}: value is {'+' if value > 0 else '-'}Inf"
                " (a division by zero in the query?)"
            )
        return value

    # -- MetricsSource -----------------------------------------------------------

    def ping(self) -> BackendStatus:
        started = time.perf_counter()
        try:
            data = self._get("/api/v1/status/buildinfo", {}, "buildinfo")
            # One real query too: a proxy in front (Thanos, Mimir, an auth
            # gateway) may answer buildinfo and still refuse queries.
            self.query("vector(1)", datetime.now(UTC), what="query")
        except ConnectorError as exc:
            return BackendStatus(ok=False, detail=str(exc))
        rtt = (time.perf_counter() - started) * 1000
        return BackendStatus(
            ok=True,
            version=str(data.get("version", "")),
            rtt_ms=rtt,
            detail=f"{self.where}, scheme {self.scheme_name}",
        )

    def render(self, signal: str, group_by: str, window_s: int) -> str:
        """The PromQL this connector sends for a panel. Raises ValueError."""
        if signal not in SIGNALS and signal not in self.scheme.signals:
            raise ValueError(f"unknown signal {signal!r} (known: {', '.join(SIGNALS)})")
        if group_by not in GROUPINGS:
            raise ValueError(f"unknown grouping {group_by!r} (known: {', '.join(GROUPINGS)})")
        return self.scheme.render(signal, group_by, window_s)

    def series(
        self, signal: str, start: datetime, end: datetime, step_s: int, group_by: str = "none"
    ) -> list[MetricSeries]:
        step_s = int(step_s) if step_s and step_s > 0 else step_for(start, end)
        promql = self.render(signal, group_by, max(step_s, 60))
        rows = self.query_range(promql, start, end, step_s, what=signal)
        label = self.scheme.labels.get(group_by, "")
        out = []
        end_s = end.timestamp()
        for labels, answered in rows:
            # query_range answers start..end inclusive; the contract is [start, end),
            # a point per step, like the workspace source (found by the contract suite).
            points = tuple((t, v) for t, v in answered if t < end_s)
            if all(math.isnan(v) for _, v in points):
                continue  # a group with no data in this range
            group = {} if group_by == "none" else {group_by: labels.get(label, "")}
            out.append(MetricSeries(name=signal, labels=group, points=points))
        if not out:
            raise EmptyResult(
                f"prometheus {self.where}: {signal}: empty result"
                f" (no series match scheme {self.scheme_name!r}'s query)"
            )
        return sorted(out, key=lambda s: tuple(s.labels.values()))

    def newest(
        self, signal: str, at: datetime, lookback: timedelta, group_by: str = "none"
    ) -> dict[str, datetime]:
        """One instant query: the newest subquery step of the lookback at which the
        signal's own PromQL had a value, per group.

        ``timestamp()`` of an expression that is not a plain selector is the time
        it was evaluated at, so over a subquery it marks every step where the
        panel's query answered; ``max_over_time`` keeps the newest. A step of
        NEWEST_STEP_S with a rate window of two steps (room for two samples at a
        one-minute scrape) answers until one step after the last sample: the step
        before it is reported, which is at or at most a step after the last
        sample. ``requests`` counts only steps with requests (``> 0``): a gateway
        that stopped logging still exports its counter, flat.
        """
        step = NEWEST_STEP_S
        expr = self.render(signal, group_by, 2 * step)
        # NaN (0/0 when a route had no traffic) is no value: ``>= -Inf`` drops it.
        kept = f"({expr}) > 0" if signal == "requests" else f"({expr}) >= -Inf"
        span = max(step, int(lookback.total_seconds()))
        promql = f"max_over_time(timestamp({kept})[{span}s:{step}s])"
        label = self.scheme.labels.get(group_by, "")
        out: dict[str, datetime] = {}
        for labels, value in self.query(promql, at, what=f"{signal} newest"):
            if math.isnan(value):
                continue
            key = "" if group_by == "none" else labels.get(label, "")
            when = datetime.fromtimestamp(min(value - step, at.timestamp()), UTC)
            if key not in out or when > out[key]:
                out[key] = when
        return out

    def instant(
        self, signal: str, start: datetime, end: datetime, *, empty_ok: bool = False
    ) -> float | None:
        """``signal`` averaged over [start, end), ungrouped; None when the scheme
        offers no query for it or the window has no data (NaN, or with
        ``empty_ok`` no series at all). Raises as query; without ``empty_ok`` an
        empty answer is InvalidResponse (no series match the scheme)."""
        try:
            promql = self.render(signal, "none", int((end - start).total_seconds()))
        except ValueError:
            return None
        rows = self.query(promql, end, what=signal)
        if not rows:
            if empty_ok:
                return None
            raise EmptyResult(
                f"prometheus {self.where}: {signal}: empty result"
                f" (no series match scheme {self.scheme_name!r}'s query)"
            )
        value = rows[0][1]
        return None if math.isnan(value) else value

    def kpis(self, start: datetime, end: datetime) -> Kpis:
        # A window with no samples (the scrape died, the gateway stopped) answers
        # an empty vector: that is no data, zero requests, like the workspace's
        # empty window, not a failure of the whole strip (the console says since
        # when, from ``newest``). A query the server rejects or answers wrongly
        # fails its own figure only; a server that does not answer, or rejects
        # every query (a login page in front of it), fails them all.
        errors: dict[str, str] = {}
        first: list[ConnectorError] = []

        def value(signal: str, field: str) -> float | None:
            try:
                return self.instant(signal, start, end, empty_ok=True)
            except (QueryError, InvalidResponse) as exc:
                errors[field] = _one_line(str(exc))
                first.append(exc)
                return None

        minutes = max((end - start).total_seconds() / 60, 1e-9)
        per_min = value("requests", "requests_per_min") or 0.0
        kpis = Kpis(
            start=start,
            end=end,
            requests=round(per_min * minutes),
            requests_per_min=per_min,
            tokens_in_per_min=value("tokens_in", "tokens_in_per_min") or 0.0,
            tokens_out_per_min=value("tokens_out", "tokens_out_per_min") or 0.0,
            cost_per_hour=value("cost", "cost_per_hour") or 0.0,
            latency_p95_ms=value("latency_p95", "latency_p95_ms"),
            error_rate=value("error_rate", "error_rate"),
            block_rate=value("block_rate", "block_rate"),
            refusal_rate=value("refusal_rate", "refusal_rate"),
            errors=errors,
        )
        offered = sum(1 for sig in KPI_SIGNALS if sig in self.scheme.signals)
        if first and len(errors) >= offered:
            raise first[0]
        return kpis


def _scheme(name: str, panels: Mapping[str, str] | None) -> Scheme:
    return scheme(name, panels)
