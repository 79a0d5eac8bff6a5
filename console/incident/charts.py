"""The key signals of an incident as text charts for the postmortem: plotext
built to a string at a fixed size, without colour, so the same data always
gives the same characters (a Markdown code block, a diff in review).

plotext is imported here only, when a chart is drawn: it costs about 150 ms
of start-up (DESIGN.md), which no screen's first frame should pay.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

WIDTH = 76
HEIGHT = 12


def line_chart(
    title: str,
    times: Sequence[datetime],
    values: Sequence[float],
    *,
    marks: Sequence[tuple[datetime, str]] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """``values`` (NaN where unknown: no requests) over ``times`` as a plotext
    chart, x labelled in UTC ``HH:MM``; ``marks`` draw a vertical line each
    (the incident opened, a write). Returns "" when no value is known."""
    known = [(i, v) for i, v in enumerate(values) if not math.isnan(v)]
    if not known:
        return ""
    import plotext as plt

    plt.clear_figure()
    plt.clear_color()  # no ANSI colour: the chart goes into a text document
    plt.plotsize(width, height)
    plt.title(title)
    plt.plot([i for i, _ in known], [v for _, v in known], marker="braille")
    top = max(v for _, v in known)
    plt.ylim(0, top * 1.1 if top > 0 else 1)
    plt.xlim(0, max(1, len(times) - 1))
    ticks = _ticks(len(times))
    plt.xticks(ticks, [times[i].strftime("%H:%M") for i in ticks])
    origin = times[0]
    step = (times[1] - origin).total_seconds() if len(times) > 1 else 60.0
    for at, _label in marks:
        position = (at - origin).total_seconds() / step
        if 0 <= position <= len(times) - 1:
            plt.vertical_line(position)
    text = plt.uncolorize(plt.build())
    plt.clear_figure()
    return "\n".join(line.rstrip() for line in text.splitlines())


def _ticks(n: int, count: int = 5) -> list[int]:
    if n <= 1:
        return [0]
    return sorted({round(i * (n - 1) / (count - 1)) for i in range(count)})
