"""One request laid out for reading: sections of labelled lines, shared by
``llmdeck request ID`` and the request detail screen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from connectors.records import RequestRecord


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _content(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(
            str(p.get("text", _json(p))) if isinstance(p, dict) else str(p) for p in content
        )
    return _json(content)


def message_lines(msg: Mapping[str, Any]) -> list[str]:
    """A chat message: role, text, tool calls with their arguments, tool results."""
    role = str(msg.get("role", "?"))
    head = role
    if role == "tool":
        head = f"tool result ({msg.get('tool_call_id') or msg.get('name') or '?'})"
    out = [f"[{head}]"]
    text = _content(msg.get("content"))
    out += [f"  {line}" for line in text.splitlines()] if text else []
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") or {}
        out.append(
            f"  -> tool call {fn.get('name', '?')}({fn.get('arguments', '')})"
            f" id={call.get('id', '')}"
        )
    return out


def sections(
    rec: RequestRecord, tenants: dict[str, str] | None = None
) -> list[tuple[str, list[str]]]:
    """``(title, lines)`` for every part of the request, in reading order; the
    tenant by its display name (``tenants``, hash -> name) and its stored id."""
    prompt = f"{rec.prompt_id}@v{rec.prompt_version}" if rec.prompt_id else rec.prompt_version
    summary = [
        f"id            {rec.request_id}",
        f"time          {rec.ts:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " UTC",
        f"route         {rec.route or '-'}   environment {rec.environment}",
        f"tenant        {_tenant(rec.tenant, tenants or {})}   user {rec.user or '-'}",
        f"prompt        {prompt or '-'}   flag variant {rec.flag_variant or '-'}",
        f"model         {rec.model_name or '-'} ({rec.provider or '?'})"
        + (f" {rec.model_digest}" if rec.model_digest else ""),
        f"status        {rec.status}"
        + (f": {rec.error}" if rec.error else "")
        + ("   REFUSAL" if rec.refusal else ""),
        f"finish        {rec.finish_reason or '-'}   fingerprint {rec.system_fingerprint or '-'}",
        f"trace id      {rec.trace_id or '-'}",
    ]
    params = [f"{k:<13} {_json(v)}" for k, v in rec.params.items()]
    if "seed" not in rec.params:
        params.append("seed          (not logged: a replay may not reproduce the output)")
    out: list[tuple[str, list[str]]] = [("Request", summary), ("Parameters", params)]
    if rec.variables:
        out.append(("Variables", [f"{k:<13} {_json(v)}" for k, v in rec.variables.items()]))
    if rec.has_content:
        msgs: list[str] = []
        for m in rec.messages:
            msgs += message_lines(m)
        out.append((f"Messages ({len(rec.messages)})", msgs))
    else:
        out.append(
            (
                "Messages",
                [
                    "not logged: this request kept hashes only, so it cannot be replayed",
                    f"prompt hash   {rec.prompt_hash or '-'}",
                ],
            )
        )
    if rec.tools:
        out.append(
            (
                "Tools offered",
                [f"{(t.get('function') or t).get('name', '?')}" for t in rec.tools],
            )
        )
    if rec.retrieval:
        r = rec.retrieval
        lines = [
            f"index         {r.get('index_snapshot', '-')}",
            f"query         {r.get('query', '-')}",
        ]
        scores = list(r.get("scores") or [])
        for i, doc in enumerate(r.get("doc_ids") or []):
            score = (
                f"{scores[i]:.3f}" if i < len(scores) and isinstance(scores[i], int | float) else ""
            )
            lines.append(f"  {doc}  {score}".rstrip())
        out.append(("Retrieval context", lines))
    if rec.output is not None:
        out.append(("Output", rec.output.splitlines() or [""]))
    elif rec.output_hash:
        out.append(("Output", [f"not logged; output hash {rec.output_hash}"]))
    if rec.safety:
        s = rec.safety
        reasons = ", ".join(str(x) for x in s.get("reasons") or []) or "-"
        out.append(
            (
                "Safety",
                [
                    f"decision      {s.get('decision', '-')}"
                    f"   policy {s.get('policy_version', '-')}",
                    f"reasons       {reasons}",
                ],
            )
        )
    ttft = f"{rec.ttft_ms:.0f} ms" if rec.ttft_ms is not None else "-"
    out.append(
        (
            "Usage",
            [
                f"tokens        {rec.tokens_in:,} in / {rec.tokens_out:,} out",
                f"cost          ${rec.cost_usd:.6f}",
                f"latency       {rec.latency_ms:,.0f} ms   time to first token {ttft}",
            ],
        )
    )
    return out


def _tenant(tenant: str, tenants: dict[str, str]) -> str:
    name = tenants.get(tenant)
    return f"{name} ({tenant})" if name else tenant or "-"


def text_lines(rec: RequestRecord, tenants: dict[str, str] | None = None) -> list[str]:
    """The sections as plain text."""
    out: list[str] = []
    for title, lines in sections(rec, tenants):
        out.append(f"== {title}")
        out += lines
        out.append("")
    return out[:-1]
