"""The gateway's policy evaluated by an OPA server over its Data API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import orjson

from connectors.base import PolicyEngine
from connectors.errors import (
    AuthError,
    BackendUnavailable,
    InvalidResponse,
    QueryError,
)
from connectors.options import Option
from connectors.policy.decision import decision
from connectors.records import BackendStatus, PolicyDecision
from connectors.support import http as http_client
from connectors.support.redact import redact_url


class OpaHttpPolicy(PolicyEngine):
    """An OPA server's Data API: ``POST {url}/v1/data/{package path}`` with
    ``{"input": request}``; the answer's ``result`` is absent when undefined."""

    kind = "opa"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="OPA server root, e.g. http://opa:8181"),
        Option("package", str, "ai/gateway", "policy package (dots or slashes)"),
        Option("token", str, "", "bearer token", secret=True),
        Option("timeout_s", float, 5.0, "seconds per request"),
    )

    def __init__(
        self,
        *,
        url: str,
        package: str = "ai/gateway",
        token: str = "",
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = redact_url(url.rstrip("/"))  # for messages; may hold no secret
        self.package = package.replace(".", "/").strip("/")
        self._client = http_client.client(url, timeout=timeout_s, bearer=token, transport=transport)

    def close(self) -> None:
        self._client.close()

    def ping(self) -> BackendStatus:
        try:
            resp = self._client.get("/health")
        except httpx.HTTPError as exc:
            return BackendStatus(ok=False, detail=f"OPA at {self.url}: {type(exc).__name__}")
        return BackendStatus(ok=resp.status_code == 200, detail=f"HTTP {resp.status_code}")

    def evaluate(self, request: Mapping[str, Any]) -> PolicyDecision:
        """Raises BackendUnavailable, AuthError, QueryError, InvalidResponse."""
        body = orjson.dumps({"input": request}, default=str)
        try:
            resp = self._client.post(
                f"/v1/data/{self.package}",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"OPA at {self.url}: {type(exc).__name__}") from None
        if resp.status_code in (401, 403):
            raise AuthError(f"OPA at {self.url} refused the token ({resp.status_code})")
        if resp.status_code == 400:
            raise QueryError(f"OPA at {self.url}: {_opa_message(resp)}")
        if resp.status_code >= 400:
            raise BackendUnavailable(f"OPA at {self.url}: HTTP {resp.status_code}")
        try:
            doc = resp.json()
        except ValueError:
            raise InvalidResponse(f"OPA at {self.url}: answer is not JSON") from None
        if not isinstance(doc, dict):
            raise InvalidResponse(f"OPA at {self.url}: answer is not an object")
        return decision(doc.get("result"))


def _opa_message(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("message", "bad request")).splitlines()[0]
    except (ValueError, AttributeError):
        return "bad request"
