"""View time: the moment the console reads "as of", live or pinned to the past.

The wall clock (``console.core.clock``) says when things happen: audit
entries, write plans, replays, alert lifecycle writes. The view time says
which moment a screen or a command shows: KPIs, panels, drift windows, the
requests' time filters, audit and timeline ranges, budgets and SLOs. Live,
the two are the same instant; pinned (``--at TIME``, or ``[`` on a screen),
every read ends at the pinned moment, so a postmortem sees what the on-call
saw and a Prometheus whose history ended an hour ago is still readable.

This is the one place reads ask for the time: ``session.view.now()`` and
``session.view.window(rng)`` (every ``Session`` carries a ``ViewTime``).
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

from console.core import clock
from console.core.errors import LlmdeckError
from console.core.spans import TimeRange

FORMS = "2026-12-01T03:10 (UTC unless it has Z or an offset), 03:10, -2h or '2h ago'"
# Longest span a relative time may reach back: far beyond any history, and well
# inside what datetime arithmetic can represent (99999999d overflows it).
MAX_BACK = timedelta(days=100 * 366)

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
_NUMBER = r"(\d+(?:\.\d+)?)\s*([a-z]+)"
_BEFORE = re.compile(rf"-\s*{_NUMBER}\Z")  # -2h, -90m, - 2 hours
_AGO = re.compile(rf"{_NUMBER}\s+ago\Z")  # 2h ago, 2 hours ago
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\Z")  # 03:10, 3:10:30


class ViewTimeError(LlmdeckError):
    """A TIME that cannot be read or lies in the future; the message says which."""


def parse_at(text: str, now: datetime | None = None) -> datetime:
    """The moment ``text`` names, in UTC, relative to ``now`` (default: the wall clock).

    Accepts ISO 8601 (``2026-12-01T03:10``, ``...Z``, ``...+02:00``; a time
    without an offset is UTC), ``HH:MM`` (today UTC, or yesterday when that
    is still to come), and ``-2h`` / ``2h ago`` (s, m, h, d, w, or the words).
    Raises ViewTimeError for anything else, or for a moment after ``now``.
    """
    now = now or clock.now()
    raw = text.strip()
    shown = _short(raw)
    if not raw:
        raise ViewTimeError(f"--at: empty time (write {FORMS})")
    low = raw.lower()
    match = _BEFORE.match(low) or _AGO.match(low)
    if match:
        unit = _UNITS.get(match[2])
        if unit is None:
            raise ViewTimeError(f"--at {shown!r}: unknown unit {match[2]!r} (use s, m, h, d or w)")
        seconds = float(match[1]) * unit
        if seconds > MAX_BACK.total_seconds():
            raise ViewTimeError(f"--at {shown!r}: too far back (at most {MAX_BACK.days:,}d)")
        return now - timedelta(seconds=seconds)
    match = _CLOCK.match(raw)
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ViewTimeError(f"--at {shown!r}: not a time of day (00:00 to 23:59)")
        at = now.astimezone(UTC).replace(hour=hour, minute=minute, second=second, microsecond=0)
        # "03:10" at 02:00 means the 03:10 that was, yesterday's.
        return at - timedelta(days=1) if at > now else at
    try:
        at = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ViewTimeError(f"--at {shown!r}: not a time (write {FORMS})") from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if at > now:
        raise ViewTimeError(
            f"--at {shown!r}: {at:%Y-%m-%d %H:%M:%S} UTC is in the future "
            f"(now is {now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"
        )
    return at


def _short(text: str) -> str:
    """Typed text for a one-line message: printable, at most 40 characters."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 40 else text[:39] + "…"


class ViewTime:
    """Live (``at`` None) or pinned to ``at``. Screens move it with ``step`` and
    ``go_live`` on the event loop while workers read ``now`` in threads: the
    pinned moment is one attribute, replaced whole, so a reader sees one value."""

    def __init__(self, at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self.at: datetime | None = None
        if at is not None:
            self.pin(at)

    @property
    def pinned(self) -> bool:
        return self.at is not None

    def now(self) -> datetime:
        """The moment reads end at: the pinned one, else the wall clock's now."""
        at = self.at
        return at if at is not None else clock.now()

    def window(self, rng: TimeRange) -> tuple[datetime, datetime]:
        """[start, end) of ``rng`` ending at ``now()``."""
        return rng.window(self.now())

    def pin(self, at: datetime) -> None:
        """Pin to ``at`` (UTC). Raises ViewTimeError when it is in the future."""
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        wall = clock.now()
        if at > wall:
            raise ViewTimeError(f"{at:%Y-%m-%d %H:%M:%S} UTC is in the future")
        with self._lock:
            self.at = at

    def go_live(self) -> None:
        with self._lock:
            self.at = None

    def step(self, span: timedelta, direction: int) -> None:
        """Move ``direction`` (-1 back, +1 forward) spans from the moment shown.
        A step that reaches the present goes live: there is no pinned future."""
        with self._lock:
            moved = self.now() + direction * span
            self.at = None if moved >= clock.now() else moved

    def moment(self) -> str:
        """``2026-12-01 03:10 UTC`` (seconds when it has some); empty when live."""
        at = self.at
        if at is None:
            return ""
        fmt = "%Y-%m-%d %H:%M" if at.second == 0 and at.microsecond == 0 else "%Y-%m-%d %H:%M:%S"
        return f"{at:{fmt}} UTC"

    def label(self) -> str:
        """``AT 2026-12-01 03:10 UTC (pinned)``, for the header; empty when live."""
        moment = self.moment()
        return f"AT {moment} (pinned)" if moment else ""
