"""OTLP/JSON trace exports (the Collector's file exporter, or one exported
document) mapped onto request records.

A chat span is one whose ``gen_ai.operation.name`` is ``chat`` (or that has a
``gen_ai.request.model``). OpenTelemetry GenAI attributes give the model,
parameters, seed, usage, finish reasons and, when content capture is on,
``gen_ai.input.messages``/``gen_ai.output.messages``. What a gateway knows
(route, tenant, user, prompt id and version, flag variant, request id) sits on
an ancestor span as the ``llmdeck.*`` (or common) attributes below: each
chat span is joined with its ancestors, nearest first. Ids are hex, as OTLP/JSON
writes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from connectors.logsources import mapping as m
from connectors.logsources.mapping import BadRecord, Problem
from connectors.records import RequestRecord

# Canonical field <- attribute names, first present wins (span, then ancestors,
# then the resource).
CONTEXT_ATTRS: dict[str, tuple[str, ...]] = {
    "request_id": ("llmdeck.request_id", "gateway.request_id", "request.id"),
    "route": ("llmdeck.route", "gateway.route", "http.route"),
    "tenant": ("llmdeck.tenant", "gateway.tenant", "tenant.id"),
    "user": ("llmdeck.user", "gateway.user", "enduser.id", "user.id"),
    "prompt_id": ("llmdeck.prompt.id", "gen_ai.prompt.id", "prompt.id"),
    "prompt_version": ("llmdeck.prompt.version", "gen_ai.prompt.version", "prompt.version"),
    "flag_variant": ("llmdeck.flag_variant", "feature_flag.variant"),
    "environment": ("deployment.environment.name", "deployment.environment"),
}
_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
    "stop": "gen_ai.request.stop_sequences",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
}


def any_value(value: Mapping[str, Any]) -> Any:
    """An OTLP/JSON ``AnyValue`` as plain Python (int64 arrive as strings)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values", []))
    return None


def attributes(items: Any) -> dict[str, Any]:
    return {kv["key"]: any_value(kv.get("value") or {}) for kv in items or ()}


def spans(doc: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(resource attributes, span)`` for every span of one OTLP/JSON document."""
    for rs in doc.get("resourceSpans") or ():
        resource = attributes((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or ():
            for span in ss.get("spans") or ():
                span["_attrs"] = attributes(span.get("attributes"))
                yield resource, span


def read(path: Path) -> Iterator[RequestRecord | Problem]:
    """Records of every chat span in ``path`` (one document, or one per line).

    Spans are joined with ancestors anywhere in the file, so the whole file is
    read first. Raises OSError when it cannot be read.
    """
    import gzip
    import zlib

    from connectors.logsources.files import gzip_reason, open_binary

    source = str(path)
    with open_binary(path) as fh:
        try:
            data = fh.read()
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # Found by the parser fuzz: a gzip that ends early raised EOFError
            # out of ingest. A document cut short cannot be joined: report it.
            yield Problem(source, 0, gzip_reason(exc))
            return
    try:
        docs: list[tuple[int, Any]] = [(1, orjson.loads(data))]
    except orjson.JSONDecodeError:
        docs = []
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                docs.append((number, orjson.loads(line)))
            except orjson.JSONDecodeError:
                yield Problem(source, number, "not valid JSON")
    by_id: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    order: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for number, doc in docs:
        if not isinstance(doc, dict) or "resourceSpans" not in doc:
            yield Problem(source, number, "not an OTLP/JSON trace document (no resourceSpans)")
            continue
        try:
            for resource, span in spans(doc):
                by_id[str(span.get("spanId", ""))] = (resource, span)
                order.append((number, resource, span))
        except (AttributeError, KeyError, TypeError, ValueError):
            yield Problem(source, number, "malformed OTLP/JSON span")
    for number, resource, span in order:
        attrs = span["_attrs"]
        if (
            attrs.get("gen_ai.operation.name", "chat") != "chat"
            and "gen_ai.request.model" not in attrs
        ):
            continue
        if "gen_ai.request.model" not in attrs and "gen_ai.operation.name" not in attrs:
            continue
        try:
            yield span_record(span, _ancestors(span, by_id), resource)
        except BadRecord as exc:
            yield Problem(source, number, f"span {span.get('spanId', '?')}: {exc}")
        except (KeyError, TypeError, ValueError, AttributeError):
            yield Problem(source, number, f"span {span.get('spanId', '?')}: malformed span")


def _ancestors(
    span: dict[str, Any], by_id: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> list[dict[str, Any]]:
    out = []
    seen = set()
    parent = span.get("parentSpanId")
    while parent and parent in by_id and parent not in seen:
        seen.add(parent)
        node = by_id[parent][1]
        out.append(node["_attrs"])
        parent = node.get("parentSpanId")
    return out


def span_record(
    span: Mapping[str, Any], ancestors: list[dict[str, Any]], resource: Mapping[str, Any]
) -> RequestRecord:
    """One chat span, with its ancestors' attributes (nearest first) and resource."""
    attrs: dict[str, Any] = (
        span["_attrs"] if "_attrs" in span else attributes(span.get("attributes"))
    )
    layers = [attrs, *ancestors, dict(resource)]

    def ctx(field: str) -> str:
        for layer in layers:
            for name in CONTEXT_ATTRS[field]:
                if layer.get(name) not in (None, ""):
                    return str(layer[name])
        return ""

    start = int(span.get("startTimeUnixNano") or 0)
    end = int(span.get("endTimeUnixNano") or start)
    if not start:
        raise BadRecord("startTimeUnixNano: missing")
    if end < start:
        raise BadRecord("span ends before it starts")
    trace_id = str(span.get("traceId", ""))
    request_id = ctx("request_id") or str(attrs.get("gen_ai.response.id") or "")
    if not request_id:
        request_id = f"{trace_id}-{span.get('spanId', '')}"
    params = {k: attrs[a] for k, a in _PARAMS.items() if a in attrs}
    finish = attrs.get("gen_ai.response.finish_reasons") or []
    failed = (span.get("status") or {}).get("code") in (2, "STATUS_CODE_ERROR")
    messages = _messages(attrs)
    output = _output(attrs)
    status = "error" if failed else "ok"
    return RequestRecord(
        request_id=request_id,
        ts=m.timestamp(start),
        environment=ctx("environment") or "production",
        route=ctx("route"),
        tenant=m.stored_id("tenant", ctx("tenant")),
        user=m.stored_id("user", ctx("user")),
        prompt_id=ctx("prompt_id"),
        prompt_version=ctx("prompt_version"),
        model_name=str(
            attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model") or ""
        ),
        provider=str(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system") or ""),
        params=params,
        messages=messages,
        output=output,
        finish_reason=str(finish[0]) if isinstance(finish, list) and finish else "",
        tokens_in=int(attrs.get("gen_ai.usage.input_tokens") or 0),
        tokens_out=int(attrs.get("gen_ai.usage.output_tokens") or 0),
        latency_ms=round((end - start) / 1e6, 3),
        status=status,  # type: ignore[arg-type]
        error=((span.get("status") or {}).get("message") or attrs.get("error.type"))
        if failed
        else None,
        system_fingerprint=str(attrs.get("openai.response.system_fingerprint") or ""),
        flag_variant=ctx("flag_variant"),
        trace_id=trace_id,
    )


def _json_attr(attrs: Mapping[str, Any], key: str) -> list[Any]:
    raw = attrs.get(key)
    if raw is None:
        return []
    value = orjson.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, list):
        raise BadRecord(f"{key}: expected a JSON list")
    return value


def _messages(attrs: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """GenAI ``{role, parts}`` messages as OpenAI chat messages."""
    out: list[dict[str, Any]] = []
    for part in _json_attr(attrs, "gen_ai.system_instructions"):
        if isinstance(part, dict) and part.get("type") == "text":
            out.append({"role": "system", "content": part.get("content", "")})
    for msg in _json_attr(attrs, "gen_ai.input.messages"):
        if not isinstance(msg, dict):
            raise BadRecord("gen_ai.input.messages: every item must be an object")
        out.extend(_chat_messages(msg))
    return tuple(out)


def _chat_messages(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    role = str(msg.get("role", "user"))
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for part in msg.get("parts") or ():
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("content", "")))
        elif kind == "tool_call":
            args = part.get("arguments")
            calls.append(
                {
                    "id": part.get("id", ""),
                    "type": "function",
                    "function": {
                        "name": part.get("name", ""),
                        "arguments": args if isinstance(args, str) else orjson.dumps(args).decode(),
                    },
                }
            )
        elif kind == "tool_call_response":
            resp = part.get("response")
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": part.get("id", ""),
                    "content": resp if isinstance(resp, str) else orjson.dumps(resp).decode(),
                }
            )
    if results:
        return results
    out: dict[str, Any] = {"role": role, "content": "\n".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    return [out]


def _output(attrs: Mapping[str, Any]) -> str | None:
    texts = []
    for msg in _json_attr(attrs, "gen_ai.output.messages"):
        if isinstance(msg, dict):
            texts += [
                str(p.get("content", ""))
                for p in msg.get("parts") or ()
                if isinstance(p, dict) and p.get("type") == "text"
            ]
    return "\n".join(texts) if texts else None
