"""What the two alert sources share: the HTTP client options, time and label parsing.

Both speak JSON over HTTP through ``connectors.support.http`` (timeouts,
retries, size caps, redaction); only the paths and shapes differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.errors import InvalidResponse
from connectors.options import Option
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember

# Reads are safe to repeat; writes (a POSTed silence) never are.
RETRY_STATUSES = frozenset({429, 502, 503, 504})

OPTIONS: tuple[Option, ...] = (
    Option("token", str, None, "bearer token", secret=True),
    Option("username", str, None, "basic-auth user (with password)"),
    Option("password", str, None, "basic-auth password", secret=True),
    Option("timeout", float, 10.0, "seconds per request"),
    Option("retries", int, 2, "retries of a read on connection errors, timeouts, 429, 502-504"),
    Option("verify", bool, True, "verify the server's TLS certificate"),
    *http.LIMIT_OPTIONS,
)


class HttpSource:
    """The client of one alerting backend, built from the shared options."""

    def __init__(
        self,
        name: str,
        *,
        url: str,
        token: str | None,
        username: str | None,
        password: str | None,
        timeout: float,
        retries: int,
        verify: bool,
        deadline: float | None,
        max_body_mb: float | None,
    ) -> None:
        if not url:
            raise ValueError(f"{name} connector needs a url")
        remember(token, password, url)
        self.url = str(url).rstrip("/")
        self.where = redact_url(self.url)
        self.backend = f"{name} {self.where}"
        self.limits = Limits.from_options(deadline, max_body_mb, default_deadline=30.0)
        self.retries = max(0, int(retries))
        auth = httpx.BasicAuth(str(username), str(password or "")) if username else None
        self.client = http.client(
            self.url,
            timeout=float(timeout),
            bearer=token or "",
            headers={"Accept": "application/json"},
            auth=auth,
            verify=verify,
        )

    def get(self, path: str, what: str, expect: type, **params: Any) -> Any:
        """GET ``path`` with retries; the decoded JSON of type ``expect``. Raises ConnectorError."""
        answer = http.send(
            self.client,
            "GET",
            path,
            backend=self.backend,
            what=what,
            limits=self.limits,
            retries=self.retries,
            retry_statuses=RETRY_STATUSES,
            retry_errors=True,
            params=params,
        )
        return http.check(answer, backend=self.backend, what=what, expect=expect)

    def close(self) -> None:
        self.client.close()


def parse_time(value: Any, backend: str, name: str) -> datetime | None:
    """An RFC 3339 time (nanoseconds allowed) as aware UTC; None for absent or
    Go's zero time. Raises InvalidResponse naming the field."""
    if value in (None, "") or str(value).startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidResponse(f"{backend}: field {name} is not a time: {value!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def str_map(value: Any, backend: str, name: str) -> dict[str, str]:
    """A label or annotation map; raises InvalidResponse when it is not one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidResponse(f"{backend}: field {name} is not a map of strings")
    return dict(value)


def summary(annotations: Mapping[str, str]) -> str:
    """The one line an alert is shown by: its summary, else its description."""
    text = annotations.get("summary") or annotations.get("description") or ""
    return " ".join(text.split())
