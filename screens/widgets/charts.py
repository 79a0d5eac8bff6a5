"""Chart panels for the Overview and Drift screens (textual-plotext).

Imported only after the first KPI frame: plotext costs start-up time that the
first frame must not pay. Each chart owns its plot and is redrawn from plain
data (lines of (unix seconds, value) points, marker times) by ``show``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

# x axis unit per range span: seconds per unit and its name.
UNITS = ((2 * 3600, 60, "min"), (2 * 86400, 3600, "h"), (math.inf, 86400, "d"))


def x_unit(span_s: float) -> tuple[int, str]:
    """(seconds per x unit, unit name) for a range of ``span_s`` seconds."""
    return next((size, name) for limit, size, name in UNITS if span_s <= limit)


class Chart(Vertical):
    """A titled chart with a stale note; lines plotted against time before the end."""

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="chart")
        self.title = title

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="chart-title")
        yield PlotextPlot(classes="chart-plot")
        yield Static("", classes="chart-note")

    def show(
        self,
        lines: Sequence[tuple[str, Sequence[tuple[float, float]]]],
        end: datetime,
        span_s: float,
        markers: Sequence[float] = (),
        note: str = "",
        scale: float = 1.0,
    ) -> None:
        """Redraw: ``lines`` as (label, points), ``markers`` as unix seconds (drawn as
        vertical lines), ``note`` the stale reason ("" when fresh)."""
        size, unit = x_unit(span_s)
        end_s = end.timestamp()
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        for label, points in lines[:8]:
            xs = [(t - end_s) / size for t, v in points if not math.isnan(v)]
            ys = [v * scale for _, v in points if not math.isnan(v)]
            if xs:
                plt.plot(xs, ys, label=label[:24], marker="braille")
        for at in markers:
            x = (at - end_s) / size
            if -span_s / size <= x <= 0:
                plt.vline(x, "red")
        plt.xlim(-span_s / size, 0)
        plt.xlabel(f"{unit} before {end:%H:%M}")
        plot.refresh()
        note_widget = self.query_one(".chart-note", Static)
        note_widget.update(note)
        self.set_class(bool(note), "-stale")
