"""Reading the request log: filters from the command line or the ``/`` quick
filter, and a request exported as JSON or as a curl command.

Tenant and user filters take the raw id the operator knows ("acme") and
hash it the way ingest did, so the raw id is never stored yet still finds
its requests.
"""

from __future__ import annotations

import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from connectors.base import RequestFilter
from connectors.logsources.mapping import stored_id
from connectors.records import STATUSES, RequestRecord
from connectors.support.atomic import private_opener
from connectors.support.redact import redact_url
from console.core import clock
from console.core.tenants import stored

ORDERS = {
    "time": "ts",
    "latency": "latency_ms",
    "cost": "cost_usd",
    "tokens": "tokens_out",
    "ts": "ts",
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
QUICK_KEYS = ("route", "tenant", "model", "prompt", "version", "status", "since", "until", "sort")


class FilterError(ValueError):
    """A filter the user typed cannot be understood; the message says why."""


# Longest span a relative time may reach back: far beyond any log, and well
# inside what datetime and the store's millisecond integers can represent.
MAX_SPAN_DAYS = 100 * 366


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """``15m``/``2h``/``7d`` before ``now`` (default: the wall clock's now; a pinned
    view passes its moment), or an ISO 8601 time. Raises FilterError."""
    m = _DURATION.match(text.strip())
    if m:
        seconds = float(m[1]) * _UNITS[m[2]]
        # Checked before timedelta: 99999999d overflows datetime arithmetic.
        if not seconds <= MAX_SPAN_DAYS * 86400:
            raise FilterError(f"{_short(text)!r}: too far back (at most {MAX_SPAN_DAYS:,}d)")
        return (now or clock.now()) - timedelta(seconds=seconds)
    try:
        from connectors.logsources.mapping import timestamp

        return timestamp(text.strip(), "time")
    except (ValueError, OverflowError):
        raise FilterError(f"{_short(text)!r}: not a time (use 15m, 2h, 7d or ISO 8601)") from None


def _short(text: str) -> str:
    """Typed text for a one-line message: at most 40 characters, no control characters."""
    text = "".join(c if c.isprintable() else "?" for c in text.strip())
    return text if len(text) <= 40 else text[:39] + "…"


def order(name: str) -> str:
    try:
        return ORDERS[name]
    except KeyError:
        raise FilterError(f"cannot sort by {_short(name)!r} (choose {', '.join(ORDERS)})") from None


def fts_query(words: list[str]) -> str:
    """Plain words as an FTS5 query that cannot be a syntax error: each word a
    quoted phrase, all required."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words if w)


def apply(
    flt: RequestFilter,
    key: str,
    value: str,
    tenants: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> RequestFilter:
    """``flt`` with one ``key:value`` of the quick filter applied; ``tenant:`` takes a
    display name of the profile's ``tenants`` map too; ``since:2h`` is before ``now``
    (the view time). Raises FilterError."""
    key = key.lower()
    if key == "route":
        return replace(flt, route=value)
    if key == "tenant":
        return replace(flt, tenant=stored(tenants or {}, value))
    if key == "model":
        return replace(flt, model=value)
    if key == "prompt":
        return replace(flt, prompt_id=value)
    if key in ("version", "v"):
        return replace(flt, prompt_version=value.lstrip("v"))
    if key == "status":
        if value not in STATUSES:
            raise FilterError(f"status must be one of {', '.join(STATUSES)}")
        return replace(flt, status=value)
    if key == "since":
        return replace(flt, since=parse_when(value, now))
    if key == "until":
        return replace(flt, until=parse_when(value, now))
    if key == "sort":
        return replace(flt, order=order(value))
    raise FilterError(f"unknown filter {_short(key)!r} (known: {', '.join(QUICK_KEYS)})")


def id_term(text: str) -> str | None:
    """The request id (or unique prefix, like git's) of an ``id:`` quick-filter
    term, which opens that request rather than filtering; None without one."""
    for term in text.split():
        key, sep, value = term.partition(":")
        if sep and key.lower() == "id" and value:
            return value
    return None


def parse_quick(
    text: str,
    base: RequestFilter | None = None,
    tenants: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> RequestFilter:
    """The ``/`` quick filter: ``key:value`` terms (route, tenant, model, prompt,
    version, status, since, until, sort), the words ``refusal``, ``blocked``,
    ``!refusal``, ``!blocked``, and any other words as full-text search.

    Raises FilterError naming the term it cannot read.
    """
    flt = base or RequestFilter()
    words: list[str] = []
    try:
        terms = shlex.split(text)
    except ValueError:
        terms = text.split()
    for term in terms:
        low = term.lower()
        if low in ("refusal", "refused"):
            flt = replace(flt, refusal=True)
        elif low in ("!refusal", "!refused"):
            flt = replace(flt, refusal=False)
        elif low == "blocked":
            flt = replace(flt, blocked=True)
        elif low == "!blocked":
            flt = replace(flt, blocked=False)
        elif ":" in term and term.split(":", 1)[0].lower() in (*QUICK_KEYS, "v"):
            key, _, value = term.partition(":")
            flt = apply(flt, key, value, tenants, now)
        else:
            words.append(term)
    return replace(flt, text=fts_query(words)) if words else replace(flt, text="")


def as_of(flt: RequestFilter, at: datetime | None) -> RequestFilter:
    """``flt`` ending no later than ``at`` (a pinned view): no request logged after
    the pinned moment is listed, whatever ``until`` the filter asks for."""
    if at is None or (flt.until is not None and flt.until <= at):
        return flt
    return replace(flt, until=at)


def describe(flt: RequestFilter, tenants: Mapping[str, str] | None = None) -> str:
    """The filter in the quick-filter syntax (the tenant by its display name when
    ``tenants`` has one, else hashed: both read back through ``parse_quick``)."""
    parts = []
    for key, value in (
        ("route", flt.route),
        ("tenant", (tenants or {}).get(flt.tenant, flt.tenant)),
        ("model", flt.model),
        ("prompt", flt.prompt_id),
        ("version", flt.prompt_version),
        ("status", flt.status),
    ):
        if value:
            parts.append(f"{key}:{value}")
    if flt.since:
        parts.append(f"since:{flt.since:%Y-%m-%dT%H:%M}Z")
    if flt.until:
        parts.append(f"until:{flt.until:%Y-%m-%dT%H:%M}Z")
    if flt.refusal is not None:
        parts.append("refusal" if flt.refusal else "!refusal")
    if flt.blocked is not None:
        parts.append("blocked" if flt.blocked else "!blocked")
    if flt.order != "ts":
        parts.append(f"sort:{next(k for k, v in ORDERS.items() if v == flt.order)}")
    if flt.text:
        parts.append(flt.text)
    return " ".join(parts)


def as_json(rec: RequestRecord) -> str:
    """The whole record as indented JSON."""
    return orjson.dumps(rec.to_dict(), option=orjson.OPT_INDENT_2, default=str).decode()


def chat_body(rec: RequestRecord) -> dict[str, Any]:
    """The OpenAI chat-completions body that reproduces the request as logged."""
    body: dict[str, Any] = {"model": rec.model_name, "messages": [dict(m) for m in rec.messages]}
    body.update(dict(rec.params))
    if rec.tools:
        body["tools"] = [dict(t) for t in rec.tools]
    return body


def as_curl(rec: RequestRecord, base_url: str = "http://127.0.0.1:18080/v1") -> str:
    """A curl command that sends the logged request again (API key from
    ``$OPENAI_API_KEY``, never written out). Raises FilterError for a
    hash-only request, whose messages were not logged."""
    if not rec.has_content:
        raise FilterError(
            f"request {rec.request_id} was logged as hashes only: no messages to send"
        )
    body = orjson.dumps(chat_body(rec), option=orjson.OPT_INDENT_2).decode()
    # The command is pasted into tickets and shells: the target URL's userinfo,
    # query credentials and token-like path segments stay out of it.
    url = redact_url(base_url.rstrip("/")) + "/chat/completions"
    return (
        f"curl -sS {shlex.quote(url)} \\\n"
        '  -H "Content-Type: application/json" \\\n'
        '  -H "Authorization: Bearer $OPENAI_API_KEY" \\\n'
        f"  -d {shlex.quote(body)}"
    )


# Drift signals -> what narrows the requests behind them.
_DRIFT_SIGNALS: dict[str, dict[str, Any]] = {
    "refusal_rate": {"refusal": True},
    "error_rate": {"status": "error"},
    "block_rate": {"blocked": True},
    "latency_p95": {"order": "latency_ms"},
    "cost_per_request": {"order": "cost_usd"},
    "output_tokens": {"order": "tokens_out"},
}


def from_group(
    group_by: str, group: str, signal: str = "", since: datetime | None = None
) -> RequestFilter:
    """The requests behind a Drift row or a chart series: ``group_by`` is
    ``prompt_version`` (group ``prompt@version``), ``model``, ``route``,
    ``tenant`` (already hashed) or ``none``; ``signal`` narrows to the
    refusals, errors or blocks, or sorts by the drifting measure."""
    flt = RequestFilter(since=since)
    if group_by == "prompt_version":
        prompt, _, version = group.rpartition("@")
        flt = replace(flt, prompt_id=prompt, prompt_version=version or group)
    elif group_by == "model":
        flt = replace(flt, model=group)
    elif group_by == "route":
        flt = replace(flt, route=group)
    elif group_by == "tenant":
        flt = replace(flt, tenant=stored_id("tenant", group))
    return replace(flt, **_DRIFT_SIGNALS.get(signal, {}))


def export(session: Any, rec: RequestRecord, kind: str) -> tuple[str, Path]:
    """The request as ``json`` or ``curl`` text, also written to a file under
    the workspace's ``exports/`` (or the temp directory without a workspace).

    Returns the text and the file. Raises FilterError (curl of a hash-only
    request) and OSError when the file cannot be written.
    """
    if kind == "curl":
        url = "http://127.0.0.1:18080/v1"
        for spec in session.profile.replay_targets.values():
            url = str(spec.options.get("url") or url)
            break
        body, suffix = as_curl(rec, url), ".sh"
    else:
        body, suffix = as_json(rec), ".json"
    base = session.profile.workspace or Path(tempfile.gettempdir()) / "llmdeck"
    folder = Path(base) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", rec.request_id)[:120]
    path = folder / f"request-{safe}{suffix}"
    # Full prompts and outputs: readable by the operator only (0600).
    with open(path, "w", encoding="utf-8", opener=private_opener) as fh:
        fh.write(body + "\n")
    return body, path
