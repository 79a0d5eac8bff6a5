"""Unleash (7.x admin API) as a flag store.

Reads flags with their type, per-environment state, strategies and strategy
variants (Unleash 7 deprecates environment variants: variants live on a
strategy; their weights are out of 1000 and shown here in percent), and the
last change from Unleash's own event log. Writes: enable or disable in an
environment, and variant weights on the strategy that carries them.

Compare-and-swap: ``Flag.revision`` is a hash of the feature's state (every
environment's enabled flag, strategies, parameters, constraints and
variants). A write re-reads the feature first and raises Conflict if the hash
moved. Unleash's admin API has no conditional write, so a change landing in
the few milliseconds between that re-read and the write is not detected.

HTTP errors become one-line ConnectorErrors: 401/403 AuthError, 404
NotFound, 409 or a "change request" answer ChangeRequestRequired, 400
InvalidChange, 5xx and network failures BackendUnavailable (reads are
retried with backoff first, honouring Retry-After). The token never appears
in a message.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from connectors.base import FlagStore
from connectors.errors import (
    ChangeRequestRequired,
    Conflict,
    ConnectorError,
    InvalidChange,
    InvalidResponse,
    NotFound,
)
from connectors.options import Option
from connectors.records import BackendStatus, ChangeEvent, Flag, FlagEnvironment, Variant
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember

# Kill switches first, then the flags that steer traffic.
TYPE_ORDER = ("kill-switch", "operational", "release", "experiment", "permission")
WEIGHT_SCALE = 10.0  # Unleash weights are out of 1000; ours are percent
_READ_ATTEMPTS = 3
_FETCHERS = 4  # concurrent feature reads in flags()


def _ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _strategy_state(s: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": s.get("id"),
        "name": s.get("name"),
        "disabled": bool(s.get("disabled")),
        "parameters": s.get("parameters") or {},
        "constraints": s.get("constraints") or [],
        "segments": s.get("segments") or [],
        "variants": [
            {k: v.get(k) for k in ("name", "weight", "weightType", "stickiness", "payload")}
            for v in s.get("variants") or []
        ],
    }


def revision_of(feature: Mapping[str, Any]) -> str:
    """A stable hash of everything a write could change on ``feature``."""
    state = [
        {
            "name": e.get("name"),
            "enabled": bool(e.get("enabled")),
            "strategies": [_strategy_state(s) for s in e.get("strategies") or []],
        }
        for e in sorted(feature.get("environments") or [], key=lambda e: str(e.get("name")))
    ]
    blob = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def _variant_strategy(env: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The strategy whose variants decide the split (the first one that has any)."""
    return next((s for s in env.get("strategies") or [] if s.get("variants")), None)


class UnleashFlags(FlagStore):
    """Unleash's admin API for one project."""

    kind = "unleash"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "write", "variants", "events"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="Unleash root, e.g. http://unleash:4242"),
        Option("token", str, doc="admin API token", secret=True),
        Option("project", str, "default", "Unleash project"),
        Option("environment", str, None, "Unleash environment (default: the profile's)"),
        Option("timeout", float, 10.0, "seconds per request"),
        *http.LIMIT_OPTIONS,
    )

    def __init__(
        self,
        *,
        url: str,
        token: str,
        project: str = "default",
        environment: str = "development",
        read_only: bool = False,
        timeout: float = 10.0,
        deadline: float | None = None,
        max_body_mb: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(read_only=read_only)
        remember(token, url)
        self.url = redact_url(url.rstrip("/"))  # for messages; may hold no secret
        self.backend = f"unleash at {self.url}"
        self.limits = Limits.from_options(deadline, max_body_mb, default_deadline=30.0)
        self.project = project
        self.environment = environment
        self._client = http.client(
            url,
            timeout=timeout,
            headers={"Authorization": token, "Accept": "application/json"},  # Unleash: no "Bearer"
            transport=transport,
        )

    # -- HTTP -------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        # Reads are retried (5xx, connection failures); a write never is: it may
        # have landed, and the pipeline re-reads to verify instead.
        read = method == "GET"
        answer = http.send(
            self._client,
            method,
            path,
            backend=self.backend,
            what=f"{method} {path}",
            limits=self.limits,
            retries=_READ_ATTEMPTS - 1 if read else 0,
            retry_statuses=frozenset({500, 502, 503, 504}) if read else frozenset(),
            retry_errors=read,
            json=body,
        )
        return http.check(
            answer,
            backend=self.backend,
            what=f"{method} {path}",
            rejected=InvalidChange,
            classify=_classify,
            expect=None,
            empty=None,
        )

    def _feature_path(self, key: str) -> str:
        return f"/api/admin/projects/{quote(self.project)}/features/{quote(key, safe='')}"

    # -- reads --------------------------------------------------------------
    def ping(self) -> BackendStatus:
        start = time.perf_counter()
        try:
            health = self._call("GET", "/health")
            config = self._object(self._call("GET", "/api/admin/ui-config"), "/api/admin/ui-config")
            # One real read of the capability: the project's feature search and
            # its first flag, read as flags() would (a wrong shape is not "ok").
            for item in self._search(limit=1)[:1]:
                if isinstance(item, Mapping) and item.get("name"):
                    self._flag(self._feature(str(item["name"])), None)
        except ConnectorError as exc:
            return BackendStatus(ok=False, detail=str(exc))
        version = str(config.get("version", ""))
        state = health.get("health") if isinstance(health, Mapping) else None
        rtt = (time.perf_counter() - start) * 1000
        return BackendStatus(state == "GOOD", version, rtt, f"health {state}")

    def _object(self, data: Any, what: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise InvalidResponse(
                f"{self.backend}: {what}: answer is {type(data).__name__}, expected an object"
            )
        return data

    def _search(self, limit: int = 1000) -> list[Any]:
        path = f"/api/admin/search/features?project=IS:{quote(self.project)}&limit={limit}"
        items = self._object(self._call("GET", path), "feature search").get("features")
        if not isinstance(items, list):
            raise InvalidResponse(f"{self.backend}: feature search: no features list")
        return items

    def _feature(self, key: str) -> dict[str, Any]:
        data = self._call("GET", self._feature_path(key))
        if not isinstance(data, dict) or "environments" not in data:
            raise InvalidResponse(f"{self.backend}: feature {key!r}: unexpected shape")
        _check_feature(data, f"{self.backend}: feature {key!r}")
        return data

    def _events(self) -> list[Mapping[str, Any]]:
        data = self._call("GET", "/api/admin/events")
        events = data.get("events") if isinstance(data, Mapping) else None
        if not isinstance(events, list):
            raise InvalidResponse(f"{self.backend}: events: unexpected shape")
        return [e for e in events if isinstance(e, Mapping)]

    def flags(self) -> list[Flag]:
        items = self._search()
        last = _last_changes(self._events())
        names = [
            str(f["name"])
            for f in items
            if isinstance(f, Mapping) and f.get("name") and not f.get("archivedAt")
        ]
        # The search lists no strategies or variants: one GET per feature, a few
        # at a time (httpx.Client is thread-safe) so a big project loads quickly.
        with ThreadPoolExecutor(max_workers=_FETCHERS) as pool:
            features = list(pool.map(self._feature, names))
        out = [self._flag(f, last.get(n)) for n, f in zip(names, features, strict=True)]
        return sorted(out, key=_order)

    def flag(self, key: str) -> Flag:
        feature = self._feature(key)
        data = self._call("GET", f"/api/admin/events/{quote(key, safe='')}")
        events = data.get("events") if isinstance(data, Mapping) else None
        if events is not None and not isinstance(events, list):
            raise InvalidResponse(f"{self.backend}: events of {key!r}: field events is not a list")
        last = _last_changes([e for e in events or [] if isinstance(e, Mapping)]).get(key)
        return self._flag(feature, last)

    def _flag(self, feature: Mapping[str, Any], last: Mapping[str, Any] | None) -> Flag:
        envs = []
        for e in feature.get("environments") or []:
            carrier = _variant_strategy(e)
            variants = tuple(
                Variant(
                    str(v.get("name")),
                    float(v.get("weight") or 0) / WEIGHT_SCALE,
                    (v.get("payload") or {}).get("value"),
                )
                for v in (carrier or {}).get("variants") or []
            )
            envs.append(
                FlagEnvironment(
                    environment=str(e.get("name")),
                    enabled=bool(e.get("enabled")),
                    variants=variants,
                    strategies=tuple(str(s.get("name")) for s in e.get("strategies") or []),
                )
            )
        return Flag(
            key=str(feature.get("name")),
            kind=str(feature.get("type") or "release"),
            environments=tuple(envs),
            description=str(feature.get("description") or ""),
            project=str(feature.get("project") or self.project),
            last_changed=_ts((last or {}).get("createdAt")),
            last_changed_by=str((last or {}).get("createdBy") or ""),
            revision=revision_of(feature),
        )

    def events(self, since: datetime | None = None) -> list[ChangeEvent]:
        out = []
        for e in self._events():
            ts = _ts(e.get("createdAt"))
            feature = e.get("featureName")
            if ts is None or not feature or (since is not None and ts < since):
                continue
            if e.get("project") not in (None, self.project):
                continue
            env = f" [{e['environment']}]" if e.get("environment") else ""
            out.append(
                ChangeEvent(
                    ts,
                    "unleash",
                    f"{e.get('type')}{env}",
                    str(e.get("createdBy") or ""),
                    str(feature),
                )
            )
        return sorted(out, key=lambda c: c.ts)

    # -- writes ---------------------------------------------------------------
    def _current(self, key: str, environment: str, expected: Flag) -> dict[str, Any]:
        """Re-read right before writing; Conflict when the feature moved."""
        self.check_writable()
        feature = self._feature(key)
        if revision_of(feature) != expected.revision:
            raise Conflict(f"unleash flag {key!r} changed since the plan was made; nothing written")
        if not any(e.get("name") == environment for e in feature.get("environments") or []):
            raise NotFound(f"unleash flag {key!r} has no environment {environment!r}")
        return feature

    def set_enabled(self, key: str, environment: str, enabled: bool, *, expected: Flag) -> None:
        self._current(key, environment, expected)
        path = f"{self._feature_path(key)}/environments/{quote(environment)}/"
        self._call("POST", path + ("on" if enabled else "off"))

    def set_weights(
        self, key: str, environment: str, weights: Mapping[str, float], *, expected: Flag
    ) -> None:
        total = sum(weights.values())
        if abs(total - 100.0) > 0.01 or any(w < 0 for w in weights.values()):
            raise InvalidChange(f"{key}: weights add up to {total:g}, not 100")
        feature = self._current(key, environment, expected)
        env = next(e for e in feature["environments"] if e.get("name") == environment)
        strategy = _variant_strategy(env)
        if strategy is None:
            raise InvalidChange(f"unleash flag {key!r} has no strategy variants in {environment}")
        names = [str(v.get("name")) for v in strategy["variants"]]
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise InvalidChange(
                f"{key}: unknown variant {unknown[0]!r} (variants: {', '.join(names)})"
            )
        body = {
            k: strategy.get(k)
            for k in ("name", "title", "parameters", "constraints", "segments", "disabled")
        }
        body["variants"] = _unleash_variants(strategy["variants"], weights)
        path = (
            f"{self._feature_path(key)}/environments/{quote(environment)}"
            f"/strategies/{quote(str(strategy['id']))}"
        )
        self._call("PUT", path, body)

    def close(self) -> None:
        self._client.close()


def _unleash_variants(
    current: list[Mapping[str, Any]], weights: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Variants with weights out of 1000. Unleash wants at least one ``variable``
    variant, which takes what the ``fix`` ones leave: the last one here."""
    out = []
    fixed = 0
    for i, v in enumerate(current):
        item = {k: v[k] for k in ("name", "stickiness", "payload") if v.get(k) is not None}
        if i < len(current) - 1:
            w = round(float(weights.get(str(v["name"]), 0.0)) * WEIGHT_SCALE)
            w = min(w, 1000 - fixed)
            fixed += w
            item.update(weight=w, weightType="fix")
        else:
            item.update(weight=1000 - fixed, weightType="variable")
        item.setdefault("stickiness", "default")
        out.append(item)
    return out


def _last_changes(events: list[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The newest event per feature (Unleash lists events newest first)."""
    out: dict[str, Mapping[str, Any]] = {}
    for e in events:
        name = e.get("featureName")
        if name and name not in out:
            out[str(name)] = e
    return out


def _order(flag: Flag) -> tuple[int, str]:
    rank = TYPE_ORDER.index(flag.kind) if flag.kind in TYPE_ORDER else len(TYPE_ORDER)
    return rank, flag.key


def _classify(code: int, detail: str) -> tuple[type[ConnectorError], str] | None:
    """Unleash's change requests: 409, or any refusal that says so."""
    if code == 409 or "change request" in detail.lower():
        return ChangeRequestRequired, "the environment requires a change request"
    return None


def _check_feature(feature: Mapping[str, Any], where: str) -> None:
    """Raise InvalidResponse naming the field when a feature is not shaped as
    Unleash 7 documents it (``environments: [7]``, ``strategies: "x"``), so the
    mapping below can trust what it reads."""

    def objects(value: Any, name: str) -> list[Mapping[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise InvalidResponse(f"{where}: field {name} is not a list of objects")
        return value

    for e in objects(feature.get("environments"), "environments"):
        for s in objects(e.get("strategies"), "environments[].strategies"):
            for v in objects(s.get("variants"), "strategies[].variants"):
                weight = v.get("weight")
                if weight is not None and (
                    isinstance(weight, bool) or not isinstance(weight, int | float)
                ):
                    raise InvalidResponse(f"{where}: field variants[].weight is not a number")
                payload = v.get("payload")
                if payload is not None and not isinstance(payload, Mapping):
                    raise InvalidResponse(f"{where}: field variants[].payload is not an object")
            for key in ("parameters",):
                if s.get(key) is not None and not isinstance(s.get(key), Mapping):
                    raise InvalidResponse(f"{where}: field strategies[].{key} is not an object")
