"""LiteLLM proxy spend logs, read from ``GET /spend/logs/v2``.

The v2 endpoint is paginated (``page``, ``page_size``; the answer carries
``data``, ``total``, ``page``, ``page_size``, ``total_pages``) and takes a
``start_date``/``end_date`` window ("YYYY-MM-DD HH:MM:SS", UTC). It is read
window by window, never through the legacy unbounded ``/spend/logs``, so one
call's cost stays bounded however much the proxy has logged.

A row is LiteLLM's ``LiteLLM_SpendLogs``: ``request_id``, ``startTime``,
``endTime``, ``completionStartTime``, ``model``, ``custom_llm_provider``,
``spend``, ``prompt_tokens``, ``completion_tokens``, ``user``, ``end_user``,
``team_id``, ``metadata``, ``request_tags``, ``status``, and, with
``store_prompts_in_spend_logs``, ``messages``, ``response`` and
``proxy_server_request``. Tags written ``key:value`` (``route:/x``,
``prompt_id:p``, ``prompt_version:3``, ``tenant:acme``) fill those fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from connectors.errors import InvalidResponse
from connectors.logsources import mapping as m
from connectors.logsources.mapping import BadRecord, Problem
from connectors.records import RequestRecord
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember

_FMT = "%Y-%m-%d %H:%M:%S"
_PARAM_KEYS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
)


class LiteLLMSpendLogs:
    """A LiteLLM proxy's spend logs. ``api_key`` is the proxy's master or an admin key."""

    def __init__(
        self,
        url: str,
        api_key: str = "",
        *,
        page_size: int = 100,
        window: timedelta = timedelta(hours=1),
        timeout_s: float = 30.0,
        limits: Limits | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        remember(api_key, url)
        self.url = redact_url(url.rstrip("/"))  # for messages; may hold no secret
        self.backend = f"LiteLLM at {self.url}"
        self.page_size = page_size
        self.window = window
        self.limits = limits or Limits(deadline_s=max(60.0, timeout_s * 2))
        self._client = http.client(url, timeout=timeout_s, bearer=api_key, transport=transport)

    def close(self) -> None:
        self._client.close()

    def read(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, RequestRecord | Problem]]:
        """``(window start, record or problem)`` for every logged request in [start, end).

        Raises BackendUnavailable, AuthError, InvalidResponse.
        """
        lo = start
        while lo < end:
            hi = min(lo + self.window, end)
            for item in self._window(lo, hi):
                yield lo, item
            lo = hi

    def _window(self, lo: datetime, hi: datetime) -> Iterator[RequestRecord | Problem]:
        page = 1
        pages = http.Pages(self.backend, f"/spend/logs/v2 from {lo:%Y-%m-%d %H:%M}", self.limits)
        while True:
            body = self._get(
                {
                    "start_date": lo.strftime(_FMT),
                    "end_date": hi.strftime(_FMT),
                    "page": page,
                    "page_size": self.page_size,
                }
            )
            rows = body.get("data")
            if not isinstance(rows, list):
                raise InvalidResponse(f"{self.backend}: /spend/logs/v2: answer has no 'data' list")
            where = f"{self.url}/spend/logs/v2 {lo:%Y-%m-%d %H:%M} page {page}"
            for i, row in enumerate(rows, start=1):
                try:
                    yield spend_record(row)
                except BadRecord as exc:
                    yield Problem(where, i, str(exc))
            total_pages = http.field(body.get("total_pages"), int, self.backend, "total_pages")
            if not rows or page >= (total_pages or 1):
                return
            page += 1
            pages.next(page)  # a proxy claiming a billion pages stops at max_pages

    def _get(self, params: dict[str, Any]) -> dict[str, Any]:
        what = "/spend/logs/v2"
        answer = http.send(
            self._client, "GET", what, backend=self.backend, limits=self.limits, params=params
        )
        body: dict[str, Any] = http.check(answer, backend=self.backend, what=what)
        return body


def _tags(row: Mapping[str, Any]) -> dict[str, str]:
    tags = row.get("request_tags") or []
    out: dict[str, str] = {}
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and ":" in tag:
                key, _, value = tag.partition(":")
                out.setdefault(key.strip(), value.strip())
    return out


def spend_record(row: Any) -> RequestRecord:
    """One ``LiteLLM_SpendLogs`` row as a record. Raises BadRecord."""
    if not isinstance(row, dict):
        raise BadRecord("expected a spend-log object")
    request_id = m.text(row, "request_id")
    if not request_id:
        raise BadRecord("request_id: missing")
    start = m.timestamp(row.get("startTime"), "startTime")
    end = m.timestamp(row["endTime"], "endTime") if row.get("endTime") else start
    if end < start:
        raise BadRecord("endTime: before startTime")
    first = row.get("completionStartTime")
    ttft = (
        (m.timestamp(first, "completionStartTime") - start).total_seconds() * 1000
        if first
        else None
    )
    meta = m.mapping(row, "metadata") or {}
    tags = _tags(row)
    request = m.mapping(row, "proxy_server_request") or {}
    response: dict[str, Any] = row["response"] if isinstance(row.get("response"), dict) else {}
    messages = row.get("messages")
    if not isinstance(messages, list):
        messages = request.get("messages")
    choices = response.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    failed = row.get("status") == "failure"
    error_info = meta.get("error_information") or {}
    return RequestRecord(
        request_id=request_id,
        ts=start,
        route=tags.get("route", ""),
        tenant=m.stored_id("tenant", tags.get("tenant") or m.text(row, "team_id")),
        user=m.stored_id("user", m.text(row, "end_user") or m.text(row, "user")),
        prompt_id=tags.get("prompt_id", ""),
        prompt_version=tags.get("prompt_version", ""),
        model_name=m.text(row, "model"),
        provider=m.text(row, "custom_llm_provider"),
        params={k: request[k] for k in _PARAM_KEYS if k in request},
        messages=tuple(x for x in messages or () if isinstance(x, dict)),
        tools=tuple(x for x in request.get("tools") or () if isinstance(x, dict)),
        output=message.get("content") if isinstance(message, dict) else None,
        finish_reason=str(choice.get("finish_reason") or ""),
        tokens_in=m.integer(row, "prompt_tokens"),
        tokens_out=m.integer(row, "completion_tokens"),
        cost_usd=m.number(row, "spend") or 0.0,
        latency_ms=round((end - start).total_seconds() * 1000, 3),
        ttft_ms=round(ttft, 3) if ttft is not None else None,
        status="error" if failed else "ok",
        error=str(error_info.get("error_message") or "request failed") if failed else None,
        system_fingerprint=str(response.get("system_fingerprint") or ""),
        flag_variant=tags.get("flag_variant", ""),
        trace_id=str(meta.get("trace_id") or row.get("session_id") or ""),
    )
