"""The HTTP plumbing every REST connector uses: one client constructor, one
bounded send, one response check.

- ``client()`` builds the ``httpx.Client``; its transport enforces the total
  deadline of ``send`` on every socket operation (connect, header and body
  reads), so a server that drips bytes cannot outlive the deadline: httpx's
  own timeouts are per read and never fire while bytes keep coming.
- ``send()`` makes one call with retries, under one total deadline (retries
  and waits included), reading the body as a stream and stopping at the size
  cap; transport failures become BackendUnavailable.
- ``check()`` maps the status to the error hierarchy and decodes JSON, with
  one message format: ``<backend>: <what>: <cause>``, scrubbed of secrets.
- ``Pages`` bounds every paged read in count (and spots a repeated cursor).

The limits are connector options (``deadline`` seconds, ``max_body_mb``,
``max_pages``), parsed once by ``Limits.from_options``.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
import orjson

from connectors.errors import (
    AuthError,
    BackendUnavailable,
    ConnectorError,
    InvalidResponse,
    NotFound,
    QueryError,
)
from connectors.options import Option
from connectors.support.redact import scrub

_CHUNK = 64 * 1024
# Defaults: far above any answer these APIs give for one page, far below what
# would hurt a laptop; a page cap of 1000 is 100k-1M items at the page sizes used.
_MAX_BYTES = 64 * 1024 * 1024
_MAX_PAGES = 1000
# The absolute monotonic time the current thread's (or task's) call must end by.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "llmdeck_http_deadline", default=None
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of one HTTP read: ``deadline_s`` for the whole call (retries and
    waits included), ``max_bytes`` of decoded body, ``max_pages`` per paged read."""

    deadline_s: float = 60.0
    max_bytes: int = _MAX_BYTES
    max_pages: int = _MAX_PAGES

    @classmethod
    def from_options(
        cls,
        deadline: float | None = None,
        max_body_mb: float | None = None,
        max_pages: int | None = None,
        *,
        default_deadline: float = 60.0,
    ) -> Limits:
        """Limits from a profile's options; None keeps the default. Raises ValueError
        for a value that is not a positive number (bools refused: ``deadline: yes``)."""
        values = {"deadline": deadline, "max_body_mb": max_body_mb, "max_pages": max_pages}
        for key, value in values.items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
            ):
                raise ValueError(f"{key} must be a positive number, not {value!r}")
        return cls(
            deadline_s=float(deadline if deadline is not None else default_deadline),
            max_bytes=int(float(max_body_mb) * 1024 * 1024) if max_body_mb else _MAX_BYTES,
            max_pages=int(max_pages) if max_pages else _MAX_PAGES,
        )


DEFAULT_LIMITS = Limits()

# The limits as profile options, declared once for every HTTP connector.
LIMIT_OPTIONS = (
    Option("deadline", float, None, "seconds for one whole call, retries included"),
    Option("max_body_mb", float, None, f"largest answer read, MiB (default {_MAX_BYTES >> 20})"),
)
PAGE_OPTIONS = (
    Option("max_pages", int, None, f"pages read at most per listing (default {_MAX_PAGES})"),
)


# -- the deadline on every socket operation ----------------------------------
def _bounded(timeout: float | None) -> float | None:
    """``timeout`` shortened to what is left of the current deadline. Raises
    httpcore.ReadTimeout when nothing is left (httpx maps it to ReadTimeout)."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total deadline reached")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _bounded(timeout), local_address, socket_options
        )
        return _Stream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport(*, retries: int = 2, verify: bool = True) -> httpx.BaseTransport:
    """httpx's transport with the deadline enforced on every socket operation.

    httpx offers no hook for the network backend, so it is swapped on the
    pool it builds; ``tests/contract/test_fault_matrix.py`` (header drip)
    fails if an httpx upgrade moves it."""
    t = httpx.HTTPTransport(retries=retries, verify=verify)
    # getattr: a test may have replaced HTTPTransport with a mock, which has no pool.
    pool = getattr(t, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if isinstance(inner, httpcore.NetworkBackend):
        pool._network_backend = _Backend(inner)  # type: ignore[union-attr]
    return t


def client(
    url: str,
    *,
    timeout: float,
    bearer: str = "",
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    verify: bool = True,
) -> httpx.Client:
    """A client for ``url`` (trailing slash dropped). ``bearer`` adds an
    ``Authorization: Bearer`` header when set. Connection failures are retried
    twice by the transport; a request that reached the server never is (that is
    ``send``'s ``retry`` argument, as only the connector knows which requests are
    safe to repeat). ``transport`` replaces that for tests with a mock transport."""
    all_headers = dict(headers or {})
    if bearer:
        all_headers["Authorization"] = f"Bearer {bearer}"
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers=all_headers,
        auth=auth,
        timeout=timeout,
        transport=transport or globals()["transport"](verify=verify),
    )


# -- one call -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Answer:
    """A complete, size-checked answer."""

    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The decoded body. Raises ValueError when it is not JSON."""
        return orjson.loads(self.content)


def _too_big(backend: str, what: str, limits: Limits) -> InvalidResponse:
    mb = limits.max_bytes / (1024 * 1024)
    return InvalidResponse(
        f"{backend}: {what}: answer larger than {mb:g} MiB (raise max_body_mb to allow it)"
    )


def _late(backend: str, what: str, limits: Limits) -> BackendUnavailable:
    return BackendUnavailable(
        f"{backend}: {what}: no complete answer within {limits.deadline_s:g} s (deadline)"
    )


def _read(resp: httpx.Response, backend: str, what: str, limits: Limits) -> Answer:
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_big(backend, what, limits)
    size, chunks = 0, []
    for chunk in resp.iter_bytes(_CHUNK):  # decoded: a gzip bomb counts at full size
        size += len(chunk)
        if size > limits.max_bytes:
            raise _too_big(backend, what, limits)
        chunks.append(chunk)
    return Answer(resp.status_code, resp.headers, b"".join(chunks))


def _failure(exc: Exception, backend: str, what: str, limits: Limits) -> BackendUnavailable:
    if _DEADLINE.get() is not None and time.monotonic() >= (_DEADLINE.get() or 0):
        return _late(backend, what, limits)
    if isinstance(exc, httpx.TimeoutException):
        return BackendUnavailable(f"{backend}: {what} timed out")
    # Only the type: httpx's text can quote request headers (the token).
    return BackendUnavailable(f"{backend}: {what}: unreachable ({type(exc).__name__})")


_TRANSPORT_ERRORS = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.StreamError,
    httpcore.TimeoutException,
)


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds only); None when absent."""
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def send(
    http: httpx.Client,
    method: str,
    path: str,
    *,
    backend: str,
    what: str = "",
    limits: Limits = DEFAULT_LIMITS,
    retries: int = 0,
    retry_statuses: frozenset[int] = frozenset(),
    retry_errors: bool = False,
    backoff: float = 0.2,
    **kwargs: Any,
) -> Answer:
    """One call under ``limits``: at most ``retries`` more attempts on a status in
    ``retry_statuses`` (Retry-After honoured, at most 5 s) or, with
    ``retry_errors``, on a transport failure; all of it within ``deadline_s``.

    Returns the last answer whatever its status (``check`` maps it). Raises
    BackendUnavailable (refused, timed out, deadline) and InvalidResponse
    (body above ``max_bytes``).
    """
    what = what or f"{method} {path}"
    deadline = time.monotonic() + limits.deadline_s
    token = _DEADLINE.set(deadline)
    try:
        attempt = 0
        while True:
            wait: float | None
            try:
                with http.stream(method, path, **kwargs) as resp:
                    answer = _read(resp, backend, what, limits)
            except _TRANSPORT_ERRORS as exc:
                error = _failure(exc, backend, what, limits)
                if not retry_errors or attempt >= retries or "deadline" in str(error):
                    raise error from None
                wait = None
            else:
                if answer.status_code not in retry_statuses or attempt >= retries:
                    return answer
                wait = retry_after(answer.headers)
            pause = min(5.0, wait if wait is not None else backoff * 2**attempt)
            if time.monotonic() + pause >= deadline:
                raise _late(backend, what, limits)
            time.sleep(pause)
            attempt += 1
    finally:
        _DEADLINE.reset(token)


async def asend(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    backend: str,
    what: str = "",
    limits: Limits = DEFAULT_LIMITS,
    **kwargs: Any,
) -> Answer:
    """``send`` for an async client, one attempt: the deadline is the task's own
    (``asyncio.timeout``), so nothing inside the call can outlive it. Raises
    BackendUnavailable and InvalidResponse like ``send``; lets httpx's
    TimeoutException and TransportError through, for the caller's retry policy."""
    what = what or f"{method} {url}"
    try:
        async with asyncio.timeout(limits.deadline_s):
            async with http.stream(method, url, **kwargs) as resp:
                declared = resp.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limits.max_bytes:
                    raise _too_big(backend, what, limits)
                size, chunks = 0, []
                async for chunk in resp.aiter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > limits.max_bytes:
                        raise _too_big(backend, what, limits)
                    chunks.append(chunk)
                return Answer(resp.status_code, resp.headers, b"".join(chunks))
    except TimeoutError:
        raise _late(backend, what, limits) from None
    except (httpx.InvalidURL, httpx.StreamError, httpx.DecodingError) as exc:
        raise BackendUnavailable(f"{backend}: {what}: {type(exc).__name__}") from None


# -- one check -------------------------------------------------------------------
def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def detail(answer: Answer) -> str:
    """The backend's own explanation of an error answer, one line, scrubbed: the
    ``message``/``error``/``detail`` of a JSON body (Prometheus' ``errorType``
    first), else the start of the text. Empty when there is none."""
    try:
        body = answer.json()
    except ValueError:
        text = answer.text.strip()
        return scrub(_one_line(text, 120)) if text and "<" not in text[:1] else ""
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            err = err.get("message") or err.get("type")
        text = err or body.get("message") or body.get("detail") or body.get("name") or ""
        if body.get("errorType") and text:
            text = f"{body['errorType']}: {text}"
        # A backend's summary comes first (OPA: "error(s) occurred" then the list).
        first = next((line for line in str(text).splitlines() if line.strip()), "")
        return scrub(_one_line(first)) if first else ""
    return scrub(_one_line(str(body), 120)) if isinstance(body, str) else ""


# (status, detail) -> the error class and what it means, for a backend convention.
Classify = Callable[[int, str], tuple[type[ConnectorError], str] | None]


def check(
    answer: Answer,
    *,
    backend: str,
    what: str,
    rejected: type[ConnectorError] = QueryError,
    classify: Classify | None = None,
    expect: type | tuple[type, ...] | None = dict,
    empty: Any = ...,
) -> Any:
    """The decoded JSON of a successful ``answer``, or the error it means.

    401/403 AuthError, 404 NotFound, 429 and 5xx BackendUnavailable, any other
    4xx ``rejected``; ``classify(status, detail)`` may pick another class first
    (a backend's own conventions, e.g. Unleash's change requests). A 2xx body
    that is not JSON, or not of type ``expect``, is InvalidResponse; an empty
    one gives ``empty`` (InvalidResponse when no ``empty`` is given). Every
    message is ``<backend>: <what>: <cause>``.
    """
    code = answer.status_code
    where = f"{backend}: {what}"
    if code >= 300:
        why = detail(answer)
        suffix = f": {why}" if why else ""
        special = classify(code, why) if classify else None
        if special is not None:
            cls, meaning = special
            raise cls(f"{where}: {meaning} (HTTP {code}{suffix})")
        if code in (401, 403):
            raise AuthError(f"{where}: HTTP {code}, credentials refused{suffix}")
        if code == 404:
            raise NotFound(f"{where}: not found{f' ({why})' if why else ''}")
        if code == 429 or code >= 500:
            raise BackendUnavailable(f"{where}: HTTP {code}{suffix}")
        raise rejected(f"{where}: {why}" if why else f"{where}: HTTP {code}")
    if not answer.content.strip():
        if empty is ...:
            raise InvalidResponse(f"{where}: empty answer (HTTP {code})")
        return empty
    try:
        body = answer.json()
    except ValueError:
        raise InvalidResponse(
            f"{where}: answer is not JSON (HTTP {code}; is this the right URL?)"
        ) from None
    if expect is not None and not isinstance(body, expect):
        raise InvalidResponse(f"{where}: answer is not a JSON {_name(expect)}")
    return body


def _name(expect: type | tuple[type, ...]) -> str:
    names: dict[type, str] = {dict: "object", list: "array"}
    types = expect if isinstance(expect, tuple) else (expect,)
    return " or ".join(names.get(t, t.__name__) for t in types)


class Pages:
    """A page counter for one paged read: ``next(cursor)`` before each page after
    the first. Raises InvalidResponse past ``max_pages`` or when the backend hands
    out a cursor it gave before (it would loop for ever)."""

    def __init__(self, backend: str, what: str, limits: Limits = DEFAULT_LIMITS) -> None:
        self.backend, self.what, self.limits = backend, what, limits
        self.count = 1
        self._seen: set[Hashable] = set()

    def next(self, cursor: Hashable) -> None:
        if cursor in self._seen:
            raise InvalidResponse(
                f"{self.backend}: {self.what}: the server repeated page cursor after "
                f"{self.count} pages (it would loop for ever)"
            )
        self._seen.add(cursor)
        self.count += 1
        if self.count > self.limits.max_pages:
            raise InvalidResponse(
                f"{self.backend}: {self.what}: more than {self.limits.max_pages} pages "
                "(raise max_pages to read them all)"
            )


def field(value: Any, expect: type | tuple[type, ...], backend: str, name: str) -> Any:
    """``value`` if it is of type ``expect`` (None counts as absent and gives None);
    raises InvalidResponse naming the backend and the field otherwise."""
    if value is None or isinstance(value, expect):
        return value
    raise InvalidResponse(
        f"{backend}: field {name} is {type(value).__name__}, expected {_name(expect)}"
    )
