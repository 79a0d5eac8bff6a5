"""A session: one profile opened, its connectors built on first use.

Screens and commands ask the session for a capability; a capability the
profile does not configure is ``None`` (shown as "not configured", not as an
error), and one that cannot be built raises LlmdeckError with the reason.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors import discovery, options
from connectors.base import (
    AlertSource,
    Connector,
    FlagStore,
    MetricsSource,
    Registry,
    ReplayTarget,
    RequestLog,
)
from connectors.workspace.schema import SchemaError, connect
from console.core.config import ConnectorSpec, Profile, SecretRef
from console.core.errors import ConfigError, LlmdeckError, WorkspaceError
from console.core.secrets import resolve_options
from console.core.viewtime import ViewTime


class Session:
    """The open profile, its connectors and the workspace store."""

    def __init__(
        self, profile: Profile, *, read_only: bool | None = None, at: datetime | None = None
    ) -> None:
        self.profile = profile
        # What every read ends at: live, or pinned to ``at`` (--at). Writes use
        # the wall clock whatever this says (console/core/viewtime.py).
        self.view = ViewTime(at)
        self.read_only = profile.read_only if read_only is None else read_only
        # --read-only on the command line: no break-glass can lift it.
        self.forced_read_only = read_only is True
        self._built: dict[str, Connector | None] = {}
        self._alerting: dict[int, AlertSource] = {}
        self._lock = threading.Lock()
        self._store: sqlite3.Connection | None = None

    @property
    def user(self) -> str:
        """Who the audit log names."""
        if self.profile.user:
            return self.profile.user
        try:
            return getpass.getuser()
        except Exception:
            return os.environ.get("USER", "unknown")

    def store(self) -> sqlite3.Connection:
        """The workspace store (created and migrated on first use).

        Raises WorkspaceError when the profile has no workspace or it is unusable.
        """
        if self._store is None:
            ws = self.profile.workspace
            if ws is None:
                raise WorkspaceError(f"profile {self.profile.name!r} has no workspace")
            self._store = open_store(ws)
        return self._store

    def build(self, spec: ConnectorSpec) -> Connector:
        """Construct a connector from its spec.

        Raises ConfigError naming the file, line and key when an option does
        not match the kind's declaration, LlmdeckError for anything else.
        """
        try:
            cls = discovery.load(spec.capability, spec.kind)
        except (KeyError, ImportError) as exc:
            raise LlmdeckError(
                f"{spec.where}: connector {spec.kind!r} unavailable: {exc}"
            ) from None
        declared = options.declared(cls)
        if declared is not None:
            # The loader checked this already; a spec built in code (tests,
            # the demo) gets the same check, before any secret is read.
            given = {
                k: v for k, v in spec.options.items() if k != "path" or spec.kind != "workspace"
            }
            try:
                options.check(given, declared, is_secret=lambda v: isinstance(v, SecretRef))
            except options.OptionError as exc:
                where = spec.key_where.get(exc.key, spec.where)
                raise ConfigError(f"{where}: {exc.message}") from None
        values = resolve_options(spec.options)  # a missing secret is reported here
        # Set by the session, never by a profile: --read-only must reach the
        # connector itself (defence in depth), whatever the file says.
        if spec.capability in ("flags", "registry", "alerting"):
            values["read_only"] = self.read_only
        if spec.capability == "flags":
            values.setdefault("environment", self.profile.environment)
        try:
            return cls(**values)
        except TypeError as exc:  # undeclared (third-party) kinds only
            raise LlmdeckError(f"{spec.where}: bad options for {spec.kind}: {exc}") from None
        except ValueError as exc:  # a value the declaration cannot express (empty url)
            raise ConfigError(f"{spec.where}: {spec.kind}: {exc}") from None

    def connector(self, capability: str) -> Connector | None:
        """The connector for ``capability``, or None when the profile has none."""
        with self._lock:
            if capability not in self._built:
                spec = self.profile.connectors.get(capability)
                self._built[capability] = self.build(spec) if spec else None
            return self._built[capability]

    def metrics(self) -> MetricsSource | None:
        return self.connector("metrics")  # type: ignore[return-value]

    def request_log(self) -> RequestLog | None:
        return self.connector("request_log")  # type: ignore[return-value]

    def registry(self) -> Registry | None:
        return self.connector("registry")  # type: ignore[return-value]

    def flags(self) -> FlagStore | None:
        return self.connector("flags")  # type: ignore[return-value]

    def alert_source(self, index: int) -> AlertSource:
        """The ``index``-th of the profile's ``alerting`` sources, built on first use.

        Raises IndexError for an index out of range, LlmdeckError (naming the
        file, line and key) when it cannot be built.
        """
        spec = self.profile.alerting[index]
        with self._lock:
            if index not in self._alerting:
                self._alerting[index] = self.build(spec)  # type: ignore[assignment]
            return self._alerting[index]

    def need_registry(self) -> Registry:
        """The profile's registry. Raises LlmdeckError when it has none."""
        registry = self.registry()
        if registry is None:
            raise LlmdeckError(f"profile {self.profile.name!r} has no registry connector")
        return registry

    def replay_target(self, name: str) -> ReplayTarget:
        spec = self.profile.replay_targets.get(name)
        if spec is None:
            known = ", ".join(self.profile.replay_targets) or "none configured"
            raise LlmdeckError(f"no replay target {name!r} (targets: {known})")
        return self.build(spec)  # type: ignore[return-value]

    def close(self) -> None:
        for conn in [*self._built.values(), *self._alerting.values()]:
            if conn is not None:
                conn.close()
        if self._store is not None:
            self._store.close()


def open_store(workspace: Path) -> sqlite3.Connection:
    """Open (creating if needed) ``workspace/store.db``. Raises WorkspaceError."""
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"{workspace}: cannot create workspace: {exc.strerror}") from None
    if not os.access(workspace, os.W_OK):
        raise WorkspaceError(f"{workspace}: workspace directory is not writable")
    try:
        return connect(workspace / "store.db")
    except SchemaError as exc:
        raise WorkspaceError(str(exc)) from None
    except sqlite3.Error as exc:
        raise WorkspaceError(f"{workspace / 'store.db'}: {exc}") from None


def describe(conn: Any) -> str:
    return f"{type(conn).__name__}({getattr(conn, 'kind', '?')})"
