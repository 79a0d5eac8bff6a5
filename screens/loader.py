"""The one way a screen loads data once (a page, a detail, a replay, a plan).

Live panels use ``screens/poller.py``; everything else calls
``Loader.load(name, fn, done, failed)``:

- ``fn`` runs in a thread worker; an ``async def`` function or an awaitable
  runs as an async worker on the event loop instead. Either way in the
  worker group ``name``; with ``exclusive`` a new load of
  the same name cancels the one before, so only the latest answer is shown;
- on success ``done(result)`` runs on the UI thread;
- on failure ``failed(error)`` runs on the UI thread when given (the screen
  shows the reason where it belongs, e.g. an inline status line); without it
  the error goes on to ``LlmdeckApp.on_worker_state_changed``, the one place
  that turns any worker error into a notification. Never a crash.

Results travel in Textual's own ``Worker.StateChanged`` messages, not through
``call_from_thread``: a worker that ends after its screen was closed delivers
to nobody instead of blocking a thread on a stopped event loop.
``DeckScreen`` owns a Loader and feeds it its worker events
(``screens/base.py``); ``DeckScreen.load`` is the shorthand screens use.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState


@dataclass(frozen=True)
class _Pending:
    done: Callable[[Any], object]
    failed: Callable[[BaseException], None] | None


class Loader:
    """Runs one-shot loads for ``node`` and routes their outcome to callbacks."""

    def __init__(self, node: DOMNode) -> None:
        self.node = node
        self._pending: dict[Worker[Any], _Pending] = {}

    def load(
        self,
        name: str,
        fn: Callable[[], Any] | Awaitable[Any],
        done: Callable[[Any], object] = lambda _result: None,
        failed: Callable[[BaseException], None] | None = None,
        *,
        exclusive: bool = True,
    ) -> Worker[Any]:
        """Run ``fn`` in a worker named ``name``; see the module docstring."""
        work: Any = fn() if inspect.iscoroutinefunction(fn) else fn
        worker: Worker[Any] = self.node.run_worker(
            work,
            name=name,
            group=name,
            thread=not inspect.isawaitable(work),
            exclusive=exclusive,
            exit_on_error=False,
        )
        self._pending[worker] = _Pending(done, failed)
        return worker

    def handle(self, event: Worker.StateChanged) -> bool:
        """Route ``event`` if it is one of this loader's workers; True when it was."""
        pending = self._pending.get(event.worker)
        if pending is None:
            return False
        state = event.state
        if state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            del self._pending[event.worker]
        if state == WorkerState.SUCCESS:
            event.stop()
            pending.done(event.worker.result)
        elif state == WorkerState.ERROR and pending.failed is not None:
            event.stop()  # shown by the screen: no second report as a notification
            error = event.worker.error
            pending.failed(error if error is not None else RuntimeError("unknown error"))
        return True
