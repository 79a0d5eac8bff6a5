"""Alertmanager's API v2: the alerts it received (``GET /api/v2/alerts``) and
its silences (``GET /api/v2/silences``, ``GET /api/v2/silence/{id}``,
``POST /api/v2/silences``).

Creating a silence is a write: the connector refuses it when opened
read-only (the write pipeline refuses first; this is defence in depth) and
never retries the POST, so a timeout cannot create two silences.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from connectors.alerting.common import OPTIONS, HttpSource, parse_time, str_map, summary
from connectors.base import AlertSource
from connectors.errors import ConnectorError, InvalidChange, InvalidResponse
from connectors.options import Option
from connectors.records import BackendStatus, ExternalAlert, Matcher, Silence
from connectors.support import http

# Alertmanager's alert states; "unprocessed" is an alert received a moment ago,
# not yet matched against silences and inhibitions: it is firing.
_STATES = {"active": "firing", "unprocessed": "firing", "suppressed": "suppressed"}
SILENCE_STATES = ("active", "pending", "expired")


class AlertmanagerAlerts(AlertSource):
    """An Alertmanager as an alert source that can silence."""

    kind = "alertmanager"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "silence"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="Alertmanager root, e.g. http://alertmanager:9093"),
        *OPTIONS,
    )

    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        verify: bool = True,
        deadline: float | None = None,
        max_body_mb: float | None = None,
        read_only: bool = False,
    ) -> None:
        super().__init__(read_only=read_only)
        self.http = HttpSource(
            "alertmanager",
            url=url,
            token=token,
            username=username,
            password=password,
            timeout=timeout,
            retries=retries,
            verify=verify,
            deadline=deadline,
            max_body_mb=max_body_mb,
        )

    # -- alerts ------------------------------------------------------------
    def alerts(self) -> list[ExternalAlert]:
        backend = self.http.backend
        items = self.http.get("/api/v2/alerts", "alerts", list)
        out = []
        for i, item in enumerate(items):
            where = f"alerts[{i}]"
            if not isinstance(item, dict):
                raise InvalidResponse(f"{backend}: {where} is not an object")
            labels = str_map(item.get("labels"), backend, f"{where}.labels")
            annotations = str_map(item.get("annotations"), backend, f"{where}.annotations")
            status = http.field(item.get("status"), dict, backend, f"{where}.status") or {}
            state = _STATES.get(str(status.get("state", "active")))
            if state is None:
                continue
            silenced = http.field(status.get("silencedBy"), list, backend, f"{where}.silencedBy")
            out.append(
                ExternalAlert(
                    name=labels.get("alertname", ""),
                    labels=labels,
                    state=state,
                    active_since=parse_time(item.get("startsAt"), backend, f"{where}.startsAt"),
                    source=self.kind,
                    summary=summary(annotations),
                    annotations=annotations,
                    fingerprint=str(item.get("fingerprint", "")),
                    silenced_by=tuple(str(s) for s in silenced or ()),
                    ends=parse_time(item.get("endsAt"), backend, f"{where}.endsAt"),
                )
            )
        return out

    # -- silences -----------------------------------------------------------
    def silences(self) -> list[Silence]:
        items = self.http.get("/api/v2/silences", "silences", list)
        return [self._silence(item, f"silences[{i}]") for i, item in enumerate(items)]

    def silence(self, silence_id: str) -> Silence:
        what = f"silence {silence_id}"
        item = self.http.get(f"/api/v2/silence/{quote(silence_id, safe='')}", what, dict)
        return self._silence(item, what)

    def create_silence(
        self,
        matchers: Sequence[Matcher],
        starts: datetime,
        ends: datetime,
        *,
        created_by: str,
        comment: str,
    ) -> str:
        self.check_writable()
        if not matchers:
            raise InvalidChange("a silence needs at least one matcher")
        body = {
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in matchers
            ],
            "startsAt": _iso(starts),
            "endsAt": _iso(ends),
            "createdBy": created_by,
            "comment": comment,
        }
        answer = http.send(
            self.http.client,
            "POST",
            "/api/v2/silences",
            backend=self.http.backend,
            what="create silence",
            limits=self.http.limits,
            json=body,
        )
        # 400: Alertmanager refused the silence itself (bad regex, ends before starts).
        reply = http.check(
            answer, backend=self.http.backend, what="create silence", rejected=InvalidChange
        )
        silence_id = reply.get("silenceID")
        if not isinstance(silence_id, str) or not silence_id:
            raise InvalidResponse(f"{self.http.backend}: create silence: answer has no silenceID")
        return silence_id

    def _silence(self, item: Any, where: str) -> Silence:
        backend = self.http.backend
        if not isinstance(item, dict):
            raise InvalidResponse(f"{backend}: {where} is not an object")
        raw = http.field(item.get("matchers"), list, backend, f"{where}.matchers") or []
        matchers = []
        for j, m in enumerate(raw):
            if not isinstance(m, dict) or not isinstance(m.get("name"), str):
                raise InvalidResponse(f"{backend}: {where}.matchers[{j}] is not a matcher")
            matchers.append(
                Matcher(
                    m["name"],
                    str(m.get("value", "")),
                    bool(m.get("isRegex", False)),
                    bool(m.get("isEqual", True)),
                )
            )
        status = http.field(item.get("status"), dict, backend, f"{where}.status") or {}
        starts = parse_time(item.get("startsAt"), backend, f"{where}.startsAt")
        ends = parse_time(item.get("endsAt"), backend, f"{where}.endsAt")
        if starts is None or ends is None:
            raise InvalidResponse(f"{backend}: {where}: a silence without start or end")
        return Silence(
            id=str(item.get("id", "")),
            matchers=tuple(matchers),
            starts=starts,
            ends=ends,
            created_by=str(item.get("createdBy", "")),
            comment=str(item.get("comment", "")),
            state=str(status.get("state", "")),
        )

    def ping(self) -> BackendStatus:
        started = time.perf_counter()
        try:
            status = self.http.get("/api/v2/status", "status", dict)
        except ConnectorError as exc:
            return BackendStatus(ok=False, detail=str(exc))
        info = status.get("versionInfo")
        version = str(info.get("version", "")) if isinstance(info, dict) else ""
        return BackendStatus(
            ok=True,
            version=version,
            rtt_ms=(time.perf_counter() - started) * 1000,
            detail=self.http.where,
        )

    def close(self) -> None:
        self.http.close()


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
