"""Navigation: the one way any screen goes anywhere.

Every screen calls these functions with its app; none of them lives on the
App, and none imports a screen module at import time. Screens import this
module, so this module names the screens it opens by ``module:Class`` (the
same late binding as ``screens/catalog.py``): no import cycle between a
screen and the screens it opens, and the first frame still pays only for
the Overview.

Two kinds of destination (k9s habits):

- a top-level screen (``go``): the mode of its number key. Leaving a mode
  drops whatever was pushed over its screen, so coming back shows that
  screen, never a detail left over from an earlier visit;
- a drill-down (``open_diff``, ``open_request``, ``open_replay``,
  ``open_compare``): pushed over the current screen; ``back`` pops it.

``back`` on a top-level screen returns to the previous top-level screen
(the Overview when there is none), never to a blank one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from weakref import WeakKeyDictionary

from textual.app import App
from textual.screen import Screen

from screens.base import SessionApp
from screens.catalog import SCREENS

if TYPE_CHECKING:
    from connectors.base import RequestFilter
    from connectors.records import RequestRecord
    from console.replay.engine import ReplayOptions

# Drill-down screens by ``module:Class`` (see the module docstring for why by name).
_DIFF = "screens.diff:DiffScreen"
_DIFF_TARGET = "screens.diff:Target"
_REQUEST = "screens.request_detail:RequestDetailScreen"
_REPLAY = "screens.replay:ReplayScreen"
_COMPARE = "screens.replay:CompareScreen"

# Per app: the mode shown before the current one (``back`` on a top-level
# screen) and a Requests filter waiting for the Requests screen to resume.
_previous: WeakKeyDictionary[App[Any], str] = WeakKeyDictionary()
_pending_filter: WeakKeyDictionary[App[Any], RequestFilter] = WeakKeyDictionary()


def _load(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return factory


# -- top-level screens ---------------------------------------------------------


def go(app: App[Any], mode: str) -> None:
    """Show the top-level screen ``mode`` (``overview``, ``requests``, ...).

    Screens pushed over the mode's screen on an earlier visit are dropped
    first: a number key always lands on the screen it names.
    """
    current = app.current_mode
    if mode != current:
        _previous[app] = current
        app.switch_mode(mode)
    _drop_drilldowns(app)


def _drop_drilldowns(app: App[Any]) -> None:
    # Only drill-downs are dropped, not a modal: a confirmation left open on
    # that screen still owns its answer (and the write it guards).
    while len(app.screen_stack) > 1 and not _is_modal(app.screen):
        app.pop_screen()


def _is_modal(screen: Screen[Any]) -> bool:
    return bool(getattr(screen, "is_modal", False))


def back(app: App[Any]) -> None:
    """Leave the current screen: pop a drill-down, or return to the previous
    top-level screen (the Overview when there is none)."""
    if len(app.screen_stack) > 1:
        app.pop_screen()
        return
    modes = {s.mode for s in SCREENS}
    previous = _previous.get(app)
    if previous is None or previous not in modes:
        previous = SCREENS[0].mode
    if previous != app.current_mode:
        go(app, previous)  # records this mode: esc again comes back, like ``cd -``


# -- Requests ------------------------------------------------------------------


def open_requests(app: App[Any], flt: RequestFilter) -> None:
    """Show the Requests screen with ``flt`` (from a chart, a Drift row...)."""
    _pending_filter[app] = flt
    if app.current_mode == "requests":
        _drop_drilldowns(app)
        take = getattr(app.screen, "take_pending_filter", None)
        if callable(take):
            take()
            return
    go(app, "requests")


def open_requests_of_group(app: App[Any], group_by: str, group: str, signal: str = "") -> None:
    """The requests of a Drift group (``prompt_version``, ``model``, ``route``,
    ``tenant``) behind ``signal`` (see console.requests.query.from_group)."""
    from console.requests.query import from_group

    open_requests(app, from_group(group_by, group, signal))


def take_requests_filter(app: App[Any]) -> RequestFilter | None:
    """The filter another screen left for Requests (once), or None."""
    return _pending_filter.pop(app, None)


def open_request(app: App[Any], record: RequestRecord) -> None:
    """Push the detail of one request over the current screen."""
    app.push_screen(_load(_REQUEST)(record))


# -- Diff ----------------------------------------------------------------------


def open_diff(app: App[Any], name: str, a: str, b: str | None = None) -> None:
    """Push the Diff screen for ``name@a`` against ``name@b`` (or ``a``'s predecessor)."""
    target = _load(_DIFF_TARGET)(name, a, b)
    app.push_screen(_load(_DIFF)(target, pushed=True))


def open_group_diff(app: App[Any], group_by: str, group: str) -> None:
    """Open the diff for a drift or request group ``prompt@version`` against its predecessor."""
    name, sep, version = group.rpartition("@")
    if group_by != "prompt_version" or not sep:
        app.notify(
            "diff needs a prompt version (group by prompt_version)", severity="warning", timeout=5
        )
        return
    open_diff(app, name, version)


# -- Replay --------------------------------------------------------------------


def open_replay(
    app: App[Any],
    request: RequestRecord | str,
    options: ReplayOptions | None = None,
    *,
    result: Any = None,
) -> None:
    """Replay ``request`` (a record or a request id) now against the profile's first
    target (or ``options``) and show it beside the logged output; with ``result``,
    show that stored replay instead of running one."""
    from connectors.errors import ConnectorError
    from connectors.records import RequestRecord as Record

    if isinstance(request, Record):
        record = request
    else:
        log = cast(SessionApp, app).session.request_log()
        try:
            if log is None:
                raise ConnectorError("this profile has no request log")
            record = log.get(request)
        except ConnectorError as exc:
            app.notify(f"cannot replay: {exc}", severity="error")
            return
    app.push_screen(_load(_REPLAY)(record, result=result, options=options))


def open_compare(app: App[Any], batch_a: str, batch_b: str) -> None:
    """Push replay batch A against batch B (the same requests, two versions)."""
    app.push_screen(_load(_COMPARE)(batch_a, batch_b))
