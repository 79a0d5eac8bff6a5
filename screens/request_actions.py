"""Actions other features add to a request, shown on the Requests table and
the request detail alike.

Each entry names its function by ``module:function`` (imported on first
use), called as ``fn(screen, record)`` on the UI thread; start a worker there
for slow work. Issue 6 (replay) adds its line here, for example::

    RequestAction("replay", "r", "Replay", "screens.replay:replay_request"),

An entry whose module cannot be imported is hidden, never an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding

from connectors.records import RequestRecord


@dataclass(frozen=True)
class RequestAction:
    name: str
    key: str
    description: str
    target: str
    # A key of console.core.readonly.LOCAL_WRITES: not offered under --read-only
    # (k9s habit, like write keys on a read-only profile), refused there anyway.
    local_write: str = ""

    def load(self) -> Callable[[Any, RequestRecord], None] | None:
        module, _, fn = self.target.partition(":")
        try:
            return getattr(importlib.import_module(module), fn)
        except (ImportError, AttributeError):
            return None


REQUEST_ACTIONS: tuple[RequestAction, ...] = (
    RequestAction("replay", "r", "Replay", "screens.replay:replay_request", local_write="replay"),
    RequestAction("diff", "d", "Diff version", "screens.diff:diff_request_version"),
    RequestAction("copy_id", "y", "Copy id", "screens.requests:copy_request_id"),
)


def bindings() -> list[Binding]:
    """Key bindings for every registered action (``request_action('<name>')``)."""
    return [Binding(a.key, f"request_action('{a.name}')", a.description) for a in REQUEST_ACTIONS]


def offered(name: str, session: Any) -> bool:
    """Whether action ``name`` is offered (its key shown and bound) to ``session``:
    not a local write under --read-only (``Session.forced_read_only``)."""
    action = find(name)
    return not (action is not None and action.local_write and session.forced_read_only)


def check(screen: Any, action: str, parameters: tuple[object, ...]) -> bool:
    """A screen's ``check_action`` for the request actions it binds."""
    if action == "request_action" and parameters:
        return offered(str(parameters[0]), screen.session)
    return True


def find(name: str) -> RequestAction | None:
    return next((a for a in REQUEST_ACTIONS if a.name == name), None)


def run(name: str, screen: Any, record: RequestRecord | None) -> None:
    """Run action ``name`` on ``record`` (nothing selected: a notification)."""
    action = find(name)
    fn = action.load() if action else None
    if fn is None:
        screen.notify(f"{name}: not available", severity="warning")
        return
    if record is None:
        screen.notify("select a request first", severity="warning")
        return
    fn(screen, record)
