"""Errors the CLI turns into one clear line and exit code 2, never a traceback."""

from __future__ import annotations


class LlmdeckError(Exception):
    """A problem the user can fix: a bad file, a missing secret, an unusable workspace."""


class ConfigError(LlmdeckError):
    """The configuration cannot be used; the message names file, line and key."""


class SecretsError(LlmdeckError):
    """A secret could not be read or stored; the message says what to install or set."""


class WorkspaceError(LlmdeckError):
    """The workspace directory or its store cannot be used."""
