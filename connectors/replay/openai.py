"""Replay target: any OpenAI-compatible chat-completions endpoint.

llama.cpp's server, vLLM, LiteLLM and OpenAI itself answer the same
``POST {url}/chat/completions``. The connector sends exactly the parameters it
is given (seed included), retries 429 and 5xx answers and refused connections
with exponential backoff that honours ``Retry-After``, and maps every failure
onto ``connectors.errors`` with a one-line message that never holds the key.

Options (profile ``replay_targets.<name>``):
    url: base URL, e.g. ``http://127.0.0.1:18080/v1``
    model: the model sent when the replay names none (default: the logged one)
    api_key: ``{keyring: NAME}`` or ``{env: VAR}``; sent as a Bearer token
    production: true marks a production endpoint (refused unless the profile
        sets ``allow_production_replay``)
    timeout: seconds to wait for one answer (default 60); connect_timeout (5)
    retries: extra attempts after a 429/5xx/refused connection (default 3)
    backoff: first backoff in seconds, doubled per attempt (default 0.5)
    max_retry_after: a ``Retry-After`` longer than this many seconds is not
        waited for: the replay fails at once saying when to retry (default 60)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx
import orjson

from connectors.base import Completion, ReplayTarget
from connectors.errors import (
    BackendUnavailable,
    ConnectorError,
    InvalidResponse,
)
from connectors.options import Option
from connectors.records import BackendStatus
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns None when the header is absent or unreadable; never negative.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class OpenAICompatTarget(ReplayTarget):
    """One OpenAI-compatible endpoint; safe to share between coroutines of one loop."""

    kind = "openai"
    capabilities: ClassVar[frozenset[str]] = frozenset({"replay"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="API root, e.g. http://127.0.0.1:18080/v1"),
        Option("model", str, "", "model name sent (default: the logged model)"),
        Option("api_key", str, "", "bearer key", secret=True),
        Option("production", bool, False, "a production target: refused unless allowed"),
        Option("timeout", float, 60.0, "seconds per completion"),
        Option("connect_timeout", float, 5.0, "seconds to connect"),
        Option("retries", int, 3, "retries on connection errors, 429 and 5xx"),
        Option("backoff", float, 0.5, "first retry delay in seconds, doubled each time"),
        Option("max_retry_after", float, 60.0, "longest Retry-After honoured, seconds"),
        Option("max_connections", int, 32, "concurrent connections"),
        *http.LIMIT_OPTIONS,
    )

    def __init__(
        self,
        *,
        url: str,
        model: str = "",
        api_key: str = "",
        production: bool = False,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 60.0,
        max_connections: int = 32,
        deadline: float | None = None,
        max_body_mb: float | None = None,
    ) -> None:
        remember(api_key, url)
        base = str(url).rstrip("/")
        self.endpoint = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.base_url = self.endpoint.removesuffix("/chat/completions")
        self.where = redact_url(self.base_url)  # messages and repr never show credentials
        self.model = str(model)
        if not isinstance(production, bool):
            raise TypeError("production must be true or false")
        self.production = production
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.max_retry_after = float(max_retry_after)
        self._timeout = httpx.Timeout(float(timeout), connect=float(connect_timeout))
        # Per attempt: a model may take the whole read timeout to start answering;
        # the deadline stops one that then drips tokens for ever.
        self.limits = Limits.from_options(
            deadline, max_body_mb, default_deadline=float(timeout) + float(connect_timeout) + 30
        )
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        # An AsyncClient belongs to the event loop it first ran on; the CLI, the
        # console and the bench each run their own loop, so keep one per loop.
        self._clients: dict[int, httpx.AsyncClient] = {}

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatTarget({self.where!r}, model={self.model!r})"

    def _client(self) -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                timeout=self._timeout, limits=self._limits, headers=self._headers
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close this loop's connection pool (the others are dropped with their loops)."""
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        self._clients.clear()

    def ping(self) -> BackendStatus:
        """One real read: ``GET /models``, the list the endpoint serves."""
        started = time.perf_counter()
        limits = Limits(deadline_s=min(10.0, self.limits.deadline_s), max_bytes=4 * 1024 * 1024)
        try:
            with http.client(self.base_url, timeout=3.0, headers=self._headers) as client:
                answer = http.send(client, "GET", "/models", backend=self.where, limits=limits)
            body = http.check(answer, backend=self.where, what="/models")
            data = http.field(body.get("data"), list, self.where, "data") or []
        except ConnectorError as exc:
            rtt = (time.perf_counter() - started) * 1000
            return BackendStatus(ok=False, rtt_ms=rtt, detail=str(exc))
        rtt = (time.perf_counter() - started) * 1000
        models = [str(m.get("id", "")) for m in data if isinstance(m, dict)]
        return BackendStatus(ok=True, rtt_ms=rtt, detail="models: " + ", ".join(models[:5]))

    async def complete(
        self, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any], model: str
    ) -> Completion:
        """Send one chat completion; see ``ReplayTarget.complete``.

        ``latency_ms`` is the round trip of the attempt that answered (retries
        and backoff excluded), comparable with a logged latency.
        """
        body = {**params, "model": model or self.model, "messages": list(messages)}
        body["stream"] = False
        payload = orjson.dumps(body)
        client = self._client()
        where = self.where
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            started = time.perf_counter()
            try:
                resp = await http.asend(
                    client,
                    "POST",
                    self.endpoint,
                    backend=where,
                    what="chat/completions",
                    limits=self.limits,
                    content=payload,
                )
            except httpx.TimeoutException:
                # A slow model is not retried: another wait of the same length
                # would most likely time out too.
                raise BackendUnavailable(
                    f"{where}: no answer within {self._timeout.read:g} s (timeout)"
                ) from None
            except httpx.TransportError as exc:
                if last:
                    raise BackendUnavailable(
                        f"{where}: cannot connect ({type(exc).__name__}) after "
                        f"{attempt + 1} attempt(s)"
                    ) from None
                await asyncio.sleep(self.backoff * 2**attempt)
                continue
            latency = (time.perf_counter() - started) * 1000
            if resp.status_code in _RETRY_STATUS:
                wait = parse_retry_after(resp.headers.get("retry-after"))
                what = (
                    "rate limited (429)"
                    if resp.status_code == 429
                    else (f"server error {resp.status_code}")
                )
                if wait is not None and wait > self.max_retry_after:
                    raise BackendUnavailable(f"{where}: {what}; retry after {wait:.0f} s")
                if last:
                    raise BackendUnavailable(
                        f"{where}: {what} after {attempt + 1} attempt(s): "
                        f"{http.detail(resp) or 'no details'}"
                    )
                await asyncio.sleep(wait if wait is not None else self.backoff * 2**attempt)
                continue
            return _completion(resp, latency, where)
        raise AssertionError("unreachable")  # pragma: no cover


def _completion(resp: http.Answer, latency_ms: float, where: str) -> Completion:
    data = http.check(resp, backend=where, what="chat/completions")
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content")
        if text is None and message.get("tool_calls"):
            # Tools are never executed: a tool call is recorded as its JSON.
            text = orjson.dumps(message["tool_calls"]).decode()
        usage = data.get("usage") or {}
        return Completion(
            text=str(text or ""),
            finish_reason=str(choice.get("finish_reason") or ""),
            tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0),
            latency_ms=latency_ms,
            system_fingerprint=str(data.get("system_fingerprint") or ""),
            model=str(data.get("model") or ""),
            raw=data,
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        raise InvalidResponse(f"{where}: answer has no choices[0].message") from None
