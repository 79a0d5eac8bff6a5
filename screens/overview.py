"""Overview: the on-call engineer's first screen. What is happening now?"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static
from textual.worker import Worker

from connectors.records import Kpis
from console import kpis
from console.ranges import DEFAULT_RANGE, RANGES
from screens.base import DeckScreen
from screens.poller import Poller
from screens.widgets.kpi_strip import KpiStrip


class OverviewScreen(DeckScreen):
    """Live KPIs for the selected time range."""

    TITLE = "Overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "next_range", "Range"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.range_name = DEFAULT_RANGE

    def compose_body(self) -> ComposeResult:
        yield KpiStrip(id="kpis")
        yield Static("", id="overview-body")

    def on_mount(self) -> None:
        self.kpi_poller: Poller[Kpis] = Poller(
            self,
            "kpis",
            self._load,
            self._show,
            self.session.profile.refresh_seconds,
            on_stale=self.query_one(KpiStrip).stale,
        )
        self.kpi_poller.start()

    def _load(self) -> Kpis:
        return kpis.load(self.session, RANGES[self.range_name])

    def _show(self, k: Kpis) -> None:
        caption = (
            f"last {self.range_name} · {k.requests:,} requests · "
            f"updated {k.end:%H:%M:%S} · t: change range"
        )
        self.query_one(KpiStrip).show(kpis.cards(k), caption)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.kpi_poller.handle(event)

    def action_next_range(self) -> None:
        names = list(RANGES)
        self.range_name = names[(names.index(self.range_name) + 1) % len(names)]
        self.kpi_poller.refresh_now()

    def action_refresh(self) -> None:
        self.kpi_poller.refresh_now()
