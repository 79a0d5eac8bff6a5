"""Chart panels for the Overview and Drift screens (textual-plotext).

Imported only after the first KPI frame: plotext costs start-up time that the
first frame must not pay. Drawing a plot with plotext takes 5-40 ms of Python,
so it never happens on the event loop during a refresh: the refresh worker
builds each chart's text (``build``) at the chart's last known size, and the
widget only swaps it in. The widget builds on the loop itself only when it is
resized (or has no prebuilt text yet), and caches the result for repaints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import Visual, visualize
from textual.widgets import Static
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

# x axis unit per range span: seconds per unit and its name.
UNITS = ((2 * 3600, 60, "min"), (2 * 86400, 3600, "h"), (math.inf, 86400, "d"))


def x_unit(span_s: float) -> tuple[int, str]:
    """(seconds per x unit, unit name) for a range of ``span_s`` seconds."""
    return next((size, name) for limit, size, name in UNITS if span_s <= limit)


@dataclass(frozen=True)
class ChartSpec:
    """Everything a chart draws: lines as (label, (unix s, value) points), markers
    as unix seconds (vertical lines), values multiplied by ``scale``."""

    lines: tuple[tuple[str, tuple[tuple[float, float], ...]], ...]
    end: datetime
    span_s: float
    markers: tuple[float, ...] = ()
    scale: float = 1.0


def draw(plt: Plot, spec: ChartSpec) -> None:
    """Put ``spec`` on a plotext plot (no rendering yet)."""
    size, unit = x_unit(spec.span_s)
    end_s = spec.end.timestamp()
    plt.clear_data()
    plt.clear_figure()
    for label, points in spec.lines[:8]:
        xs = [(t - end_s) / size for t, v in points if not math.isnan(v)]
        ys = [v * spec.scale for _, v in points if not math.isnan(v)]
        if xs:
            plt.plot(xs, ys, label=label[:24], marker="braille")
    for at in spec.markers:
        x = (at - end_s) / size
        if -spec.span_s / size <= x <= 0:
            plt.vline(x, "red")
    plt.xlim(-spec.span_s / size, 0)
    plt.xlabel(f"{unit} before {spec.end:%H:%M}")


def build(spec: ChartSpec, width: int, height: int, theme: str) -> Text:
    """The chart as text at ``width`` x ``height``; safe to call in a worker thread
    (a private Plot object, nothing shared with the widget)."""
    plt = Plot()
    draw(plt, spec)
    plt.plotsize(width, height)
    plt._set_size(width, height)  # see PlotextPlot.render: needed for resizes to work
    plt.theme(theme)
    return Text.from_ansi(plt.build())


@dataclass(frozen=True)
class PlotTarget:
    """What the worker needs to prebuild a chart: the plot widget's size, plotext
    theme and style, read on the event loop after the previous draw."""

    widget: CachedPlot
    width: int
    height: int
    theme: str
    style: VisualStyle


@dataclass(frozen=True)
class Prebuilt:
    """A chart drawn in a worker: its lines (strips) at ``size``."""

    size: tuple[int, int]
    strips: list[Strip]


def prebuild(spec: ChartSpec, target: PlotTarget) -> Prebuilt:
    """Draw ``spec`` all the way to strips, off the event loop: plotext's build
    and the text-to-strips conversion are the slow parts (tens of ms a chart)."""
    text = build(spec, target.width, target.height, target.theme)
    visual = visualize(target.widget, text)
    strips = Visual.to_strips(target.widget, visual, target.width, target.height, target.style)
    return Prebuilt((target.width, target.height), strips)


class CachedPlot(PlotextPlot):
    """A PlotextPlot that serves prebuilt or cached text while its size is unchanged."""

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._text: Text | None = None
        self._text_size: tuple[int, int] | None = None
        self._spec_lines: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = ()
        self._prebuilt: Prebuilt | None = None

    @property
    def theme_name(self) -> str:
        return self._get_plotext_theme_name(self.app.theme)

    def target(self) -> PlotTarget:
        """Where the next frame should be prebuilt (call on the event loop)."""
        return PlotTarget(
            self, self.size.width, self.size.height, self.theme_name, self.visual_style
        )

    def render(self) -> RenderResult:
        size = (self.size.width, self.size.height)
        if self._text is None or self._text_size != size:
            self._text = super().render()  # type: ignore[assignment]
            self._text_size = size
        return self._text  # type: ignore[return-value]

    def render_line(self, y: int) -> Strip:
        pre = self._prebuilt
        if pre is not None and pre.size == (self.size.width, self.size.height):
            return pre.strips[y] if y < len(pre.strips) else Strip.blank(self.size.width)
        return super().render_line(y)

    def set_spec(self, spec: ChartSpec, prebuilt: Prebuilt | None) -> None:
        draw(self.plt, spec)  # kept for a rebuild on resize
        self._spec_lines = spec.lines
        self._prebuilt = prebuilt
        self._text = None
        self.refresh()


class Chart(Vertical):
    """A titled chart with a stale note under it; the title also says when the
    chart's data stopped ("no data since 03:10")."""

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="chart")
        self.title = title
        self._note = ""
        self._absent = ""

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="chart-title")
        yield CachedPlot(classes="chart-plot")
        yield Static("", classes="chart-note")

    def target(self) -> PlotTarget:
        """Where the worker should prebuild the next frame (read on the event loop)."""
        return self.query_one(CachedPlot).target()

    def show(self, spec: ChartSpec, note: str = "", prebuilt: Prebuilt | None = None) -> None:
        """Draw ``spec`` (using ``prebuilt`` text when it fits) and the stale ``note``."""
        self.query_one(CachedPlot).set_spec(spec, prebuilt)
        self.set_note(note)

    def set_absent(self, text: str) -> None:
        """Say in the title that the data stopped ("" while it flows): a silent
        signal must not read as a quiet one. First, so a narrow chart that cuts
        its title keeps it."""
        if text != self._absent:
            self._absent = text
            shown = f"{text} · {self.title}" if text else self.title
            self.query_one(".chart-title", Static).update(shown, layout=False)
            self.set_class(bool(text), "-absent")

    def set_note(self, note: str) -> None:
        """The stale note ("" when fresh); no relayout: the note has a fixed height."""
        if note != self._note:
            self._note = note
            self.query_one(".chart-note", Static).update(note, layout=False)
            self.set_class(bool(note), "-stale")
