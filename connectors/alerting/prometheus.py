"""Alerts of Prometheus' own rules, from ``GET /api/v1/alerts``.

Thanos Ruler, Mimir's and Cortex's rulers and VictoriaMetrics' vmalert answer
the same endpoint and shape, so this connector reaches them unchanged.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

from connectors.alerting.common import OPTIONS, HttpSource, parse_time, str_map, summary
from connectors.base import AlertSource
from connectors.errors import ConnectorError, InvalidResponse, QueryError
from connectors.options import Option
from connectors.records import BackendStatus, ExternalAlert

STATES = ("firing", "pending")


class PrometheusAlerts(AlertSource):
    """Prometheus (or a ruler that answers its API) as an alert source. Read only."""

    kind = "prometheus"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="server root, e.g. https://prom.internal"),
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
            "prometheus",
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

    def _data(self, path: str, what: str) -> dict[str, Any]:
        body = self.http.get(path, what, dict)
        # A 200 is not enough: the API says success or error in the body.
        if body.get("status") != "success":
            message = " ".join(str(body.get("error", "no error message")).split())[:200]
            kind = body.get("errorType", "?")
            raise QueryError(f"{self.http.backend}: {what}: {kind}: {message}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise InvalidResponse(f"{self.http.backend}: {what}: answer has no data")
        return data

    def alerts(self) -> list[ExternalAlert]:
        backend = self.http.backend
        items = self._data("/api/v1/alerts", "alerts").get("alerts")
        if not isinstance(items, list):
            raise InvalidResponse(f"{backend}: alerts: data.alerts is not a list")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InvalidResponse(f"{backend}: alerts[{i}] is not an object")
            labels = str_map(item.get("labels"), backend, f"alerts[{i}].labels")
            annotations = str_map(item.get("annotations"), backend, f"alerts[{i}].annotations")
            state = item.get("state")
            if state not in STATES:
                continue  # "inactive" is never listed; anything newer is not an active alert
            out.append(
                ExternalAlert(
                    name=labels.get("alertname", ""),
                    labels=labels,
                    state=str(state),
                    active_since=parse_time(item.get("activeAt"), backend, f"alerts[{i}].activeAt"),
                    source=self.kind,
                    summary=summary(annotations),
                    annotations=annotations,
                    value=_number(item.get("value")),
                )
            )
        return out

    def ping(self) -> BackendStatus:
        started = time.perf_counter()
        try:
            info = self._data("/api/v1/status/buildinfo", "buildinfo")
            self.alerts()  # a proxy may answer buildinfo and still refuse the alerts
        except ConnectorError as exc:
            return BackendStatus(ok=False, detail=str(exc))
        return BackendStatus(
            ok=True,
            version=str(info.get("version", "")),
            rtt_ms=(time.perf_counter() - started) * 1000,
            detail=self.http.where,
        )

    def close(self) -> None:
        self.http.close()


def _number(value: Any) -> float | None:
    """Prometheus writes the value as a string ("7.9e-01", "NaN", "+Inf")."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
