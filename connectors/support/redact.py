"""Keeping credentials out of every message and every stored text.

Two mechanisms, because a secret reaches a message two ways:

- **Known values.** Every secret the process resolves (profile secrets, a
  connector's token, key or password, the userinfo and credential query values
  of a backend URL) is ``remember``-ed; ``scrub`` replaces each occurrence, so
  a backend that echoes the token in its error body is caught whatever it
  calls the field.
- **Shapes.** ``scrub`` also rewrites what looks like a credential whatever its
  value: URL userinfo, credential query parameters, ``Bearer``/``Basic``
  values, well-known token prefixes, and token-like URL path segments.

Every ``LlmdeckError`` scrubs its message when it is made
(``connectors.errors``); stored texts (replay errors, ingest progress) and
exported commands call ``scrub``/``redact_url`` themselves.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

MASK = "***"
# Shorter values would blank ordinary words ("dev", "on") all over messages;
# real tokens and passwords are longer.
MIN_SECRET = 6
_MAX_KNOWN = 1000  # bounded: a process resolves a handful of secrets

_lock = threading.Lock()
_known: tuple[str, ...] = ()  # longest first, replaced as a whole tuple (no torn reads)

# Query parameters whose value is a credential, by name.
_CRED_KEYS = (
    r"(?:api[_-]?key|apikey|key|token|access[_-]?token|auth|authorization|password|"
    r"passwd|pwd|secret|client[_-]?secret|sig|signature|x-amz-signature|session)"
)
_QUERY = re.compile(rf"(?i)([?&;]{_CRED_KEYS}=)[^&#\s'\"]+")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s'\"]+@")
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=:-]{6,}")
# ``"api_key": "..."``, ``password=...`` in echoed bodies and config dumps.
_KEYVAL = re.compile(
    # JSON (``"token": "..."``) or assignment (``password=...``) only: a bare
    # ``api_key: ...`` is how our own messages name a profile key.
    r"(?i)\b((?:api[_-]?key|apikey|access[_-]?token|token|password|passwd|secret|"
    r"client[_-]?secret|secret[_-]?key)(?:[\"']\s*:\s*[\"']|\s*=\s*[\"']?))[^\s\"',&}]{6,}"
)
# Token formats with a recognisable prefix: OpenAI/LiteLLM (sk-), Langfuse
# (sk-lf-, pk-lf-), GitHub, Slack, JWTs, Unleash (project:env.hex).
_PREFIXED = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{8,}|pk-lf-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|"
    r"xox[abprs]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+|"
    r"[a-z*][a-z0-9_*-]*:[a-z*][a-z0-9_*-]*\.[0-9a-f]{32,})"
)
# A URL in free text ends before trailing punctuation ("OPA at http://opa: ...").
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>:,.;)\]]")


def remember(*values: object) -> None:
    """Treat every given string (of ``MIN_SECRET`` characters or more) as a secret
    from now on; URLs add their userinfo and credential query values. Non-strings
    and empty values are ignored, so callers can pass options as they come."""
    global _known
    found: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            continue
        value = value.strip()
        if "://" in value:
            found.update(_url_secrets(value))
        elif len(value) >= MIN_SECRET:
            found.add(value)
    if not found:
        return
    with _lock:
        merged = set(_known) | found
        _known = tuple(sorted(merged, key=len, reverse=True)[:_MAX_KNOWN])


def forget_all() -> None:
    """Drop every remembered value (tests)."""
    global _known
    with _lock:
        _known = ()


def _url_secrets(url: str) -> set[str]:
    try:
        parts = urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return set()
    out = {password or "", unquote(password or "")}
    if username and password:
        out.add(username)
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if re.fullmatch(_CRED_KEYS, key, flags=re.IGNORECASE):
            out.add(value)
    return {v for v in out if len(v) >= MIN_SECRET}


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every remembered secret, every value of ``extra`` and every
    credential-shaped substring replaced by ``***``. Never raises."""
    if not text:
        return text
    # Shapes first, so a known value that is part of a longer token does not
    # leave the token's tail behind.
    text = _URL.sub(lambda m: _redact_url_keep_query(m.group(0)), text)
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _QUERY.sub(rf"\1{MASK}", text)
    text = _AUTH_HEADER.sub(rf"\1\2{MASK}", text)
    text = _KEYVAL.sub(rf"\1{MASK}", text)
    text = _PREFIXED.sub(MASK, text)
    for value in sorted((v for v in extra if v and len(v) >= MIN_SECRET), key=len, reverse=True):
        text = text.replace(value, MASK)
    for value in _known:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _token_like(segment: str) -> bool:
    """A path segment that is most likely a credential: long, mixed letters and
    digits, no dots or spaces (so ``v1``, ``chat``, ``api``, ``2.0`` and ordinary
    names survive)."""
    if len(segment) < 24 or "." in segment:
        return False
    has_digit = any(c.isdigit() for c in segment)
    has_alpha = any(c.isalpha() for c in segment)
    return has_digit and has_alpha and bool(re.fullmatch(r"[A-Za-z0-9_:~+=-]+", segment))


def _path(path: str) -> str:
    known = _known
    segments = []
    for seg in path.split("/"):
        plain = unquote(seg)
        if _token_like(plain) or any(v == plain or v in plain for v in known):
            seg = MASK
        segments.append(seg)
    return "/".join(segments)


def _redact_url_keep_query(url: str) -> str:
    """A URL found in free text: userinfo dropped, token-like path segments masked,
    credential query values masked (other parameters kept: they explain the error)."""
    return _rebuilt(url, keep_query=True)


def redact_url(url: str) -> str:
    """``url`` without user, password, query or fragment, and with token-like path
    segments masked: safe to show and to copy into an exported command."""
    return _rebuilt(url, keep_query=False)


def _rebuilt(url: str, *, keep_query: bool) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    if port:
        host += f":{port}"
    query = ""
    if keep_query and parts.query:
        query = _QUERY.sub(rf"\1{MASK}", "?" + parts.query)[1:]
    return urlunsplit((parts.scheme, host, _path(parts.path), query, ""))
