"""The gateway's Rego policy: in process with regopy, or an OPA server.

Both answer ``PolicyDecision``: ``allowed`` from the package's ``allow`` rule
(None when undefined) and every message of its ``deny`` set (``{"msg": ...}``
objects or plain strings), sorted.

regopy pitfalls (docs/backends.md): it follows OPA v1 syntax; a query whose
result is undefined must be recognised by ``str(output) == "undefined"``
before anything else touches the output (``.expressions()`` on it aborts the
process), so the output is only ever read through its string form.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson

from connectors import http_client
from connectors.base import PolicyEngine
from connectors.errors import (
    AuthError,
    BackendUnavailable,
    InvalidResponse,
    NotFound,
    QueryError,
)
from connectors.records import BackendStatus, PolicyDecision
from connectors.redact import redact_url


def decision(value: Any) -> PolicyDecision:
    """A decision from the value of the policy package (or of its ``allow`` rule).

    ``None`` (undefined) gives ``allowed=None``. Raises InvalidResponse for
    anything that is neither a package object nor a boolean.
    """
    if value is None:
        return PolicyDecision(allowed=None, raw=None)
    if isinstance(value, bool):
        return PolicyDecision(allowed=value, raw=value)
    if not isinstance(value, dict):
        raise InvalidResponse("policy result is neither an object nor a boolean")
    allow = value.get("allow")
    denials = []
    for item in value.get("deny") or ():
        if isinstance(item, dict):
            denials.append(str(item.get("msg", orjson.dumps(item).decode())))
        else:
            denials.append(str(item))
    return PolicyDecision(
        allowed=allow if isinstance(allow, bool) else None,
        denials=tuple(sorted(denials)),
        raw=value,
    )


class RegoPolicy(PolicyEngine):
    """A Rego file evaluated in process. ``query`` names the package, e.g.
    ``data.ai.gateway``. Raises NotFound when the file is missing, QueryError
    when it does not compile."""

    kind = "rego"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})

    def __init__(self, *, path: str | Path, query: str = "data.ai.gateway", **_: Any) -> None:
        self.path = Path(path)
        self.query = query
        self._lock = threading.Lock()
        self._interp: Any = None

    def _interpreter(self) -> Any:
        if self._interp is None:
            from regopy import Interpreter, RegoError

            try:
                source = self.path.read_text(encoding="utf-8")
            except OSError as exc:
                raise NotFound(f"policy {self.path}: {exc.strerror or exc}") from None
            interp = Interpreter()
            try:
                interp.add_module(self.path.name, source)
            except RegoError:
                raise QueryError(f"policy {self.path}: does not parse") from None
            self._interp = interp
        return self._interp

    def ping(self) -> BackendStatus:
        try:
            self.evaluate({})
        except Exception as exc:
            return BackendStatus(ok=False, detail=str(exc).splitlines()[0])
        from regopy import __version__

        return BackendStatus(ok=True, version=f"regopy {__version__}", detail=str(self.path))

    def evaluate(self, request: Mapping[str, Any]) -> PolicyDecision:
        """Evaluate with ``request`` as ``input``. Raises NotFound, QueryError."""
        from regopy import RegoError

        with self._lock:
            interp = self._interpreter()
            try:
                interp.set_input_term(orjson.dumps(request, default=str).decode())
                output = interp.query(self.query)
                text = str(output)
            except RegoError as exc:
                raise QueryError(f"policy {self.path.name}: {_first_line(exc)}") from None
            except ValueError:
                # regopy could not read its own output (seen with sprintf of "").
                raise QueryError(f"policy {self.path.name}: unreadable result") from None
        if text == "undefined":
            return decision(None)
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise QueryError(f"policy {self.path.name}: {text.splitlines()[0][:120]}") from None
        exprs = doc.get("expressions") if isinstance(doc, dict) else None
        if not exprs:
            return decision(None)
        return decision(exprs[0])


def _first_line(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        line = line.strip(" ()")
        if "errormsg" in line:
            return line.split(":", 1)[-1].strip(" )")
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class OpaHttpPolicy(PolicyEngine):
    """An OPA server's Data API: ``POST {url}/v1/data/{package path}`` with
    ``{"input": request}``; the answer's ``result`` is absent when undefined."""

    kind = "opa"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})

    def __init__(
        self,
        *,
        url: str,
        package: str = "ai/gateway",
        token: str = "",
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        **_: Any,
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
