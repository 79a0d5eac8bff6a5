"""The gateway's policy evaluated by an OPA server over its Data API."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import orjson

from connectors.base import PolicyEngine
from connectors.errors import (
    ConnectorError,
    InvalidResponse,
)
from connectors.options import Option
from connectors.policy.decision import decision
from connectors.records import BackendStatus, PolicyDecision
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember


class OpaHttpPolicy(PolicyEngine):
    """An OPA server's Data API: ``POST {url}/v1/data/{package path}`` with
    ``{"input": request}``; the answer's ``result`` is absent when undefined.

    Options: ``url``, ``package``, ``token`` (bearer), ``timeout_s`` per read,
    ``deadline`` (seconds for a whole call), ``max_body_mb``."""

    kind = "opa"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="OPA server root, e.g. http://opa:8181"),
        Option("package", str, "ai/gateway", "policy package (dots or slashes)"),
        Option("token", str, "", "bearer token", secret=True),
        Option("timeout_s", float, 5.0, "seconds per request"),
        *http.LIMIT_OPTIONS,
    )

    def __init__(
        self,
        *,
        url: str,
        package: str = "ai/gateway",
        token: str = "",
        timeout_s: float = 5.0,
        deadline: float | None = None,
        max_body_mb: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        remember(token, url)
        self.url = redact_url(url.rstrip("/"))  # for messages; may hold no secret
        self.backend = f"OPA at {self.url}"
        self.package = package.replace(".", "/").strip("/")
        self.limits = Limits.from_options(deadline, max_body_mb, default_deadline=30.0)
        self._client = http.client(url, timeout=timeout_s, bearer=token, transport=transport)

    def close(self) -> None:
        self._client.close()

    def ping(self) -> BackendStatus:
        """Health, then one real evaluation of the package with an empty input: a
        server that is up but lacks the policy, or answers nonsense, is not ok."""
        started = time.perf_counter()
        try:
            answer = http.send(
                self._client, "GET", "/health", backend=self.backend, limits=self.limits
            )
            http.check(answer, backend=self.backend, what="/health", expect=None)
            self.evaluate({})
        except ConnectorError as exc:
            return BackendStatus(ok=False, detail=str(exc))
        rtt = (time.perf_counter() - started) * 1000
        return BackendStatus(ok=True, rtt_ms=rtt, detail=f"policy {self.package} answers")

    def evaluate(self, request: Mapping[str, Any]) -> PolicyDecision:
        """Raises BackendUnavailable, AuthError, QueryError, InvalidResponse."""
        body = orjson.dumps({"input": request}, default=str)
        path = f"/v1/data/{self.package}"
        answer = http.send(
            self._client,
            "POST",
            path,
            backend=self.backend,
            what=path,
            limits=self.limits,
            content=body,
            headers={"Content-Type": "application/json"},
        )
        doc = http.check(answer, backend=self.backend, what=path, empty={})
        try:
            return decision(doc.get("result"))
        except InvalidResponse as exc:
            raise InvalidResponse(f"{self.backend}: {path}: {exc}") from None
