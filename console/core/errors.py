"""The console's errors: branches of the one base, ``LlmdeckError``.

The base is defined in ``connectors.errors`` (connectors may not import the
console) and re-exported here, so a ConnectorError is an LlmdeckError too and
no call site translates one into the other: the CLI turns any of them into
one clear line and exit code 2, the App into a notification.
"""

from __future__ import annotations

from connectors.errors import LlmdeckError

__all__ = ["ConfigError", "LlmdeckError", "SecretsError", "WorkspaceError"]


class ConfigError(LlmdeckError):
    """The configuration cannot be used; the message names file, line and key."""


class SecretsError(LlmdeckError):
    """A secret could not be read or stored; the message says what to install or set."""


class WorkspaceError(LlmdeckError):
    """The workspace directory or its store cannot be used."""
