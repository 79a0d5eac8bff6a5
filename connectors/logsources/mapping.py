"""Shared mapping helpers: typed field coercion, id hashing and problems.

The coercers raise ``BadRecord`` with a reason that names the field and the
kind of mistake but never the value, so reasons group into a short report
and no raw content (ids, prompts) ever reaches a log or the screen.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from connectors.records import STATUSES

_HASHED = re.compile(r"[tu]-[0-9a-f]{12}\Z")


@dataclass(frozen=True, slots=True)
class Problem:
    """One input that could not be read: ``source`` (file or URL), 1-based
    ``line`` (0 for the whole source) and a one-line ``reason``."""

    source: str
    line: int
    reason: str


class BadRecord(ValueError):
    """A record that cannot be mapped; the message is the reason (no values)."""


@lru_cache(maxsize=65536)
def hash_id(kind: str, raw: str) -> str:
    """The stored form of a tenant or user id: ``t-``/``u-`` and 12 hex digits
    of SHA-256 over ``"<kind>:<raw>"``. Deterministic, so the same raw tenant
    always lands on the same hash; never reversible."""
    return f"{kind[0]}-" + hashlib.sha256(f"{kind}:{raw}".encode()).hexdigest()[:12]


def stored_id(kind: str, value: str) -> str:
    """``value`` if it already is a hashed id of ``kind``, else its hash; "" stays ""."""
    if not value:
        return ""
    if value[0] == kind[0] and _HASHED.match(value):
        return value
    return hash_id(kind, value)


def text(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value
    raise BadRecord(f"{key}: expected a string, got {_kind(value)}")


def opt_text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadRecord(f"{key}: expected a string, got {_kind(value)}")


def integer(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise BadRecord(f"{key}: expected an integer, got {_kind(value)}")


def number(obj: Mapping[str, Any], key: str, default: float | None = 0.0) -> float | None:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise BadRecord(f"{key}: not a finite number")
        return float(value)
    raise BadRecord(f"{key}: expected a number, got {_kind(value)}")


def flag(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise BadRecord(f"{key}: expected true or false, got {_kind(value)}")


def mapping(obj: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise BadRecord(f"{key}: expected an object, got {_kind(value)}")


def objects(obj: Mapping[str, Any], key: str) -> tuple[dict[str, Any], ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRecord(f"{key}: expected a list, got {_kind(value)}")
    for item in value:
        if not isinstance(item, dict):
            raise BadRecord(f"{key}: every item must be an object, got {_kind(item)}")
    return tuple(value)


def status(value: Any) -> str:
    if value is None or value == "":
        return "ok"
    if value in STATUSES:
        return str(value)
    if isinstance(value, str):
        raise BadRecord(f"status: must be one of {', '.join(STATUSES)}")
    raise BadRecord(f"status: expected a string, got {_kind(value)}")


def timestamp(value: Any, key: str = "ts") -> datetime:
    """An ISO 8601 string (``Z`` or an offset; naive means UTC) or Unix time in
    seconds, milliseconds or nanoseconds, as an aware UTC datetime."""
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            raise BadRecord(f"{key}: not an ISO 8601 time") from None
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if seconds > 1e17:
            seconds /= 1e9
        elif seconds > 1e11:
            seconds /= 1e3
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise BadRecord(f"{key}: time out of range") from None
    if value is None:
        raise BadRecord(f"{key}: missing")
    raise BadRecord(f"{key}: expected an ISO 8601 string or a number, got {_kind(value)}")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# Bounds a stored record must respect. SQLite integers are signed 64-bit, so
# a bigger count cannot be stored at all; the year window rejects clock bugs
# (epoch zero, 9999-12-31 sentinels) that would otherwise stretch every chart
# and rollup. Fixed bounds, not "now", so the check does not depend on a clock.
MAX_INT = 2**63 - 1
MIN_YEAR = 2000
MAX_YEAR = 2100
_TEXT_FIELDS = (
    "request_id",
    "environment",
    "route",
    "tenant",
    "user",
    "prompt_id",
    "prompt_version",
    "model_name",
    "model_digest",
    "provider",
    "output",
    "finish_reason",
    "error",
    "system_fingerprint",
    "flag_variant",
    "trace_id",
    "prompt_hash",
    "output_hash",
)
_JSON_FIELDS = ("params", "variables", "messages", "retrieval", "tools", "safety")


def check_record(rec: Any) -> None:
    """Refuse a mapped record whose values are garbage or cannot be stored.

    Raises BadRecord naming the field: a negative or out-of-range count, a
    negative cost or duration, a time outside [MIN_YEAR, MAX_YEAR), or a NUL
    character in a text field or anywhere inside a JSON field (message
    content, params: SQLite functions such as ``json_each`` cut text at NUL,
    so two different ids could collide once stored, and a nested NUL would be
    stored escaped, not as sent).
    """
    for key in ("tokens_in", "tokens_out"):
        value = getattr(rec, key)
        if value < 0:
            raise BadRecord(f"{key}: negative")
        if value > MAX_INT:
            raise BadRecord(f"{key}: too large to store")
    for key in ("cost_usd", "latency_ms", "ttft_ms"):
        value = getattr(rec, key)
        if value is None:
            continue
        if value != value or value in (float("inf"), float("-inf")):
            raise BadRecord(f"{key}: not a finite number")
        if value < 0:
            raise BadRecord(f"{key}: negative")
    if not MIN_YEAR <= rec.ts.year < MAX_YEAR:
        raise BadRecord(f"ts: year outside {MIN_YEAR}-{MAX_YEAR - 1}")
    for key in _TEXT_FIELDS:
        value = getattr(rec, key)
        if isinstance(value, str) and "\x00" in value:
            raise BadRecord(f"{key}: contains a NUL character")
    for key in _JSON_FIELDS:
        if _has_nul(getattr(rec, key)):
            raise BadRecord(f"{key}: contains a NUL character")


def _has_nul(value: Any) -> bool:
    """Whether a NUL is in any string (key or value) of a JSON-shaped value.
    Iterative: a value nested hundreds deep is refused later, not here."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, Mapping):
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, list | tuple):
            todo.extend(v)
    return False
