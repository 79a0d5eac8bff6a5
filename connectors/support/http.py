"""The HTTP client every REST connector uses, configured one way."""

from __future__ import annotations

from collections.abc import Mapping

import httpx


def client(
    url: str,
    *,
    timeout: float,
    bearer: str = "",
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client for ``url`` (trailing slash dropped). ``bearer`` adds an
    ``Authorization: Bearer`` header when set. Connection failures are retried
    twice by the transport; a request that reached the server never is (that is
    each connector's call, as only it knows which requests are safe to repeat).
    ``transport`` replaces that for tests against a local fault server."""
    all_headers = dict(headers or {})
    if bearer:
        all_headers["Authorization"] = f"Bearer {bearer}"
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers=all_headers,
        auth=auth,
        timeout=timeout,
        transport=transport or httpx.HTTPTransport(retries=2),
    )
