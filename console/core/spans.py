"""The time ranges the panels offer, and the chart step each one uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from console.core import clock


@dataclass(frozen=True)
class TimeRange:
    name: str
    span: timedelta
    step_s: int  # chart resolution: about 60-170 points per chart

    def window(self, end: datetime | None = None) -> tuple[datetime, datetime]:
        """[start, end) of this range ending at ``end`` (default: now)."""
        end = end or clock.now()
        return end - self.span, end


RANGES: dict[str, TimeRange] = {
    r.name: r
    for r in (
        TimeRange("15m", timedelta(minutes=15), 60),
        TimeRange("1h", timedelta(hours=1), 60),
        TimeRange("6h", timedelta(hours=6), 300),
        TimeRange("24h", timedelta(hours=24), 900),
        TimeRange("7d", timedelta(days=7), 3600),
    )
}
DEFAULT_RANGE = "1h"


def parse(name: str) -> TimeRange:
    """The range called ``name``. Raises ValueError naming the choices."""
    try:
        return RANGES[name]
    except KeyError:
        raise ValueError(f"unknown range {name!r} (choose {', '.join(RANGES)})") from None


def parse_span(text: str) -> timedelta:
    """``15m``, ``1h``, ``24h``, ``7d`` as a timedelta. Raises ValueError."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise ValueError(f"bad window {text!r} (write 30m, 1h, 24h or 7d)") from None
    if seconds <= 0:
        raise ValueError(f"bad window {text!r}: must be positive")
    return timedelta(seconds=seconds)
