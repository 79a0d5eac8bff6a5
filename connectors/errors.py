"""The one exception hierarchy of llmdeck.

``LlmdeckError`` is the base that the CLI (exit code 2, one line) and the App
(a notification) catch; connectors raise the ``ConnectorError`` branch, the
console its own subclasses (``console.core.errors``). It lives here, below the
console, because connectors may not import the console.

Messages are one line, say what failed and never contain a secret: every
message is passed through ``connectors.support.redact.scrub`` when the
exception is made, so a backend that echoes a token in its error body, or a
URL with credentials pasted into a message, cannot leak it whatever the raise
site forgot.
"""

from __future__ import annotations

from typing import Any

from connectors.support.redact import scrub


class LlmdeckError(Exception):
    """A problem the user can fix or must know about: a bad file, a missing secret,
    an unusable workspace, a backend that failed. ``str()`` is safe to show."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(scrub(a) if isinstance(a, str) else a for a in args))


class ConnectorError(LlmdeckError):
    """Base class: a backend could not do what was asked."""


class BackendUnavailable(ConnectorError):
    """The backend did not answer (refused, timed out, DNS, 5xx after retries,
    no complete answer within the deadline)."""


class AuthError(ConnectorError):
    """The backend refused the credentials (401/403)."""


class NotFound(ConnectorError):
    """The named object (request, flag, prompt, alias, version) does not exist."""


class AmbiguousId(NotFound):
    """A request id prefix that matches more than one request (``candidates``:
    a few of them, for the message)."""

    def __init__(self, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.candidates = candidates


class InvalidResponse(ConnectorError):
    """The backend answered with something the connector cannot read: not JSON,
    a field of the wrong type, a body above the size cap, more pages than the cap."""


class EmptyResult(InvalidResponse):
    """The query answered no series at all: no data in the window, or a query
    that matches nothing (the message says which it may be)."""


class QueryError(ConnectorError):
    """The backend rejected the query itself (for example a PromQL error)."""


class ReadOnlyError(ConnectorError):
    """A write was attempted on a connector opened read-only."""


class Conflict(ConnectorError):
    """The state changed between the plan and the write; nothing was written."""


class InvalidChange(ConnectorError):
    """The change would leave the backend invalid (bad weights, unknown variant)."""


class ChangeRequestRequired(ConnectorError):
    """The environment requires a change request; the backend refused a direct write."""
