"""Errors every connector raises, so the console handles all backends alike.

Messages are one line, say what failed and never contain a secret.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class: a backend could not do what was asked."""


class BackendUnavailable(ConnectorError):
    """The backend did not answer (refused, timed out, DNS, 5xx after retries)."""


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
    """The backend answered with something the connector cannot read."""


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
