"""The seed schema: one JSON object a line, named as the canonical record.

Fields (DESIGN.md): ``request_id`` and ``ts`` are required; ``ts`` is ISO 8601
(``Z`` or an offset) or Unix seconds/milliseconds. ``params``, ``variables``,
``retrieval``, ``safety`` are objects; ``messages`` and ``tools`` lists of
objects (OpenAI chat shape: ``role``, ``content``, ``tool_calls``,
``tool_call_id``). ``tenant`` and ``user`` may arrive raw or hashed: raw ones
are hashed here, before anything stores them. Unknown keys are ignored, so a
newer gateway's extra fields do not break ingest. A few common spellings are
accepted: ``timestamp`` for ``ts``, ``model`` for ``model_name``,
``tenant_id``/``user_id`` for ``tenant``/``user``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from connectors.logsources import mapping as m
from connectors.logsources.files import read_lines
from connectors.logsources.mapping import BadRecord, Problem
from connectors.records import RequestRecord

_ALIASES = {
    "timestamp": "ts",
    "model": "model_name",
    "tenant_id": "tenant",
    "user_id": "user",
}


def seed_record(obj: Any) -> RequestRecord:
    """Map one parsed seed-schema object. Raises BadRecord with the reason."""
    if not isinstance(obj, dict):
        raise BadRecord(f"expected a JSON object, got {m._kind(obj)}")
    for alias, name in _ALIASES.items():
        if alias in obj and name not in obj:
            obj[name] = obj[alias]
    request_id = obj.get("request_id")
    if request_id is None or request_id == "":
        raise BadRecord("request_id: missing")
    if not isinstance(request_id, str):
        raise BadRecord(f"request_id: expected a string, got {m._kind(request_id)}")
    if "ts" not in obj:
        raise BadRecord("ts: missing")
    params = m.mapping(obj, "params")
    return RequestRecord(
        request_id=request_id,
        ts=m.timestamp(obj["ts"]),
        environment=m.text(obj, "environment", "production"),
        route=m.text(obj, "route"),
        tenant=m.stored_id("tenant", m.text(obj, "tenant")),
        user=m.stored_id("user", m.text(obj, "user")),
        prompt_id=m.text(obj, "prompt_id"),
        prompt_version=_version(obj),
        model_name=m.text(obj, "model_name"),
        model_digest=m.text(obj, "model_digest"),
        provider=m.text(obj, "provider"),
        params=params or {},
        variables=m.mapping(obj, "variables"),
        messages=m.objects(obj, "messages"),
        retrieval=m.mapping(obj, "retrieval"),
        tools=m.objects(obj, "tools"),
        output=m.opt_text(obj, "output"),
        finish_reason=m.text(obj, "finish_reason"),
        tokens_in=m.integer(obj, "tokens_in"),
        tokens_out=m.integer(obj, "tokens_out"),
        cost_usd=m.number(obj, "cost_usd") or 0.0,
        latency_ms=m.number(obj, "latency_ms") or 0.0,
        ttft_ms=m.number(obj, "ttft_ms", None),
        status=m.status(obj.get("status")),  # type: ignore[arg-type]
        error=m.opt_text(obj, "error"),
        safety=m.mapping(obj, "safety"),
        refusal=m.flag(obj, "refusal"),
        system_fingerprint=m.text(obj, "system_fingerprint"),
        flag_variant=m.text(obj, "flag_variant"),
        trace_id=m.text(obj, "trace_id"),
        prompt_hash=m.text(obj, "prompt_hash"),
        output_hash=m.text(obj, "output_hash"),
    )


def _version(obj: dict[str, Any]) -> str:
    value = obj.get("prompt_version")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # "14" and 14 name the same version
    return m.text(obj, "prompt_version")


def parse_line(data: bytes) -> RequestRecord:
    """One seed-schema line. Raises BadRecord with the reason."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            raise BadRecord("not UTF-8 text (binary data?)") from None
        raise BadRecord("not valid JSON") from None
    return seed_record(obj)


def read(
    path: Path,
    offset: int = 0,
    *,
    follow: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[tuple[int, int, RequestRecord | Problem]]:
    """``(line number, end offset, record or problem)`` for each non-blank line
    from ``offset``.

    A problem's offset is -1 when reading cannot go on (a truncated gzip).
    Raises OSError when the file cannot be opened.
    """
    source = str(path)
    for line in read_lines(path, offset, follow=follow, stop=stop):
        if line.data is None:
            yield (
                line.number,
                line.end,
                Problem(source, line.number, line.problem or "unreadable line"),
            )
            continue
        if not line.data.strip():
            continue
        try:
            yield line.number, line.end, parse_line(line.data)
        except BadRecord as exc:
            yield line.number, line.end, Problem(source, line.number, str(exc))
