"""The demo's local model in the header: build progress while it builds,
"ready" (and a notification) as soon as it answers.

The status is read in a thread worker every second (a port probe and a small
file), so a slow probe never holds up a frame.
"""

from __future__ import annotations

from typing import Any

from textual.app import App

from screens.loader import Loader
from screens.widgets.deck_header import DeckHeader


class ModelWatcher:
    """Polls ``model.status()`` for ``app`` and shows it in every header."""

    def __init__(self, app: App[Any], model: Any, interval: float = 1.0) -> None:
        self.app = app
        self.model = model
        self.line = ""
        self.ready = False
        self._announced = False
        self.loader = Loader(app)  # its events reach LlmdeckApp.on_worker_state_changed
        app.set_interval(interval, self._tick, name="local-model")
        self._tick()

    def _tick(self) -> None:
        self.loader.load("local-model", self._load, self._show)

    def _load(self) -> Any:
        try:
            return self.model.status()
        except Exception:  # a status read must never surface as a worker error
            return None

    def _show(self, status: Any) -> None:
        if status is None:
            return
        was_ready, self.ready = self.ready, bool(status.ready)
        self.line = status.line()
        for screen in self.app.screen_stack:
            for header in screen.query(DeckHeader):
                header.status = self.line
        if self.ready and not was_ready and not self._announced:
            self._announced = True
            self.app.notify(
                "Replay against the local model is available: press r on a request.",
                title="local model ready",
            )


def model_line(app: Any) -> str:
    """The current model line ('' when the app has no local model)."""
    watcher = getattr(app, "model_watcher", None)
    return watcher.line if watcher else ""


def model_ready(app: Any) -> bool | None:
    """True/False for the demo's local model; None when the app has none."""
    watcher = getattr(app, "model_watcher", None)
    return watcher.ready if watcher else None
