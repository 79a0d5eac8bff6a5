"""Absence is a signal: a metric that stops arriving raises an alert, as
Prometheus's ``absent()`` does, and its panels say "no data since HH:MM".

A scrape that died, an exporter that crashed or a gateway that stopped logging
looks, on every chart, like a quiet minute: zero requests, no errors, nothing
burning. So for each signal the panels draw (``connectors.base.SIGNALS``), and
for the request count per route, the console asks the metrics source when it
last had data (``MetricsSource.newest``) and calls it absent once that is
longer ago than ``absent_after`` (profile ``alerts:``, 10 minutes by default).
Only what had data in the ``absent_lookback`` (24 hours) can be absent: a route
that never existed, or was retired last week, is not.

The alerts fold what one cause explains: when the whole request stream stops,
one page says so and lists the routes and signals that stopped with it (within
``absent_after`` of it); a route or a signal that stopped on its own is a
ticket of its own.

Every call takes ``now``: the live console passes the clock, a look-back passes
a past moment. A reading is reused while nothing in it can have become absent
yet (each group's newest data plus ``absent_after`` still ahead of ``now``), so a
refresh every few seconds queries the backend about once per ``absent_after``
while data flows, and on every call only while something is absent.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import SIGNALS, MetricsSource
from connectors.errors import ConnectorError
from console.alerts.model import Alert
from console.core.alert_rules import alert_settings

DEFAULT_AFTER = timedelta(minutes=10)
DEFAULT_LOOKBACK = timedelta(hours=24)
STREAM = "requests"  # the signal whose silence is the whole request stream's


@dataclass(frozen=True)
class AbsenceSettings:
    """When silence is absence (profile ``alerts: {absent_after: 10m,
    absent_lookback: 24h}``): ``after`` without data, for what had data in the
    ``lookback``."""

    after: timedelta = DEFAULT_AFTER
    lookback: timedelta = DEFAULT_LOOKBACK

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> AbsenceSettings:
        """From a profile's settings (its ``alerts:`` section, read as the alert
        engine reads it). Raises ConfigError naming the key; the loader has
        already checked a profile read from a file."""
        cfg = alert_settings(dict(settings or {}))
        return cls(cfg.absent_after, cfg.absent_lookback)


def since_text(when: datetime, now: datetime) -> str:
    """``03:10`` on the day of ``now``, ``11-28 03:10`` before it (UTC, as the
    rest of the console)."""
    return f"{when:%H:%M}" if when.date() == now.date() else f"{when:%m-%d %H:%M}"


def no_data_text(when: datetime, now: datetime) -> str:
    return f"no data since {since_text(when, now)}"


@dataclass(frozen=True)
class Freshness:
    """When each signal and each route last had data, seen at ``now``.

    ``signals``: newest data per signal; a signal left out had no data in the
    lookback, is not offered by the source, or could not be read (then
    ``errors`` says why). ``routes``: newest request per route. ``stream``
    is the newest request of all. A reused reading (see the module) may hold
    values up to ``absent_after`` older than the newest data: only while
    nothing in it can be absent, so every absence it reports is current.
    """

    now: datetime
    settings: AbsenceSettings
    signals: dict[str, datetime] = field(default_factory=dict)
    routes: dict[str, datetime] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def stream(self) -> datetime | None:
        return self.signals.get(STREAM)

    def _absent(self, newest: datetime | None) -> datetime | None:
        if newest is None or self.now - newest <= self.settings.after:
            return None
        return newest

    def silent_since(self, signal: str) -> datetime | None:
        """The newest data of ``signal`` when it is absent now, else None."""
        return self._absent(self.signals.get(signal))

    def absent_signals(self) -> dict[str, datetime]:
        return {s: t for s, t in self.signals.items() if self._absent(t)}

    def absent_routes(self) -> dict[str, datetime]:
        # A series without a route label is part of the stream, not a route.
        return {r: t for r, t in self.routes.items() if r and self._absent(t)}

    def quiet(self, signals: Iterable[str]) -> tuple[datetime, tuple[str, ...]] | None:
        """For a panel drawing ``signals``: (when its data stopped, the absent
        signals) when any of them is absent, else None. When all are, the panel's
        data stopped with the last of them."""
        gone = {s: t for s in signals if (t := self.silent_since(s)) is not None}
        if not gone:
            return None
        return max(gone.values()), tuple(gone)

    def empty_since(self, signal: str, start: datetime) -> datetime | None:
        """The newest data of ``signal`` when it is absent and none of it falls in
        a window starting at ``start``: what a KPI card over that window says
        instead of 0.0."""
        newest = self.silent_since(signal)
        return newest if newest is not None and newest < start else None


@dataclass
class _Reading:
    asked_at: datetime
    newest: dict[str, datetime]


# Readings per metrics source object (the session's one), keyed by (signal,
# grouping, lookback): the Overview's KPI and chart refreshes and the alert
# engine share them.
_READINGS: weakref.WeakKeyDictionary[Any, dict[tuple[str, str, float], _Reading]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def _newest(
    metrics: MetricsSource, signal: str, group_by: str, now: datetime, settings: AbsenceSettings
) -> dict[str, datetime]:
    key = (signal, group_by, settings.lookback.total_seconds())
    with _LOCK:
        try:
            readings = _READINGS.setdefault(metrics, {})
        except TypeError:  # not weak-referenceable: no reuse
            readings = {}
        last = readings.get(key)
    # Newest data only grows, so while every group's newest + after is still
    # ahead of now nothing in the reading can be absent yet: it answers as is.
    if (
        last is not None
        and last.asked_at <= now
        and last.newest
        and all(now - t <= settings.after for t in last.newest.values())
    ):
        return last.newest
    found = metrics.newest(signal, now, settings.lookback, group_by)
    with _LOCK:
        readings[key] = _Reading(now, dict(found))
    return found


def read(
    metrics: MetricsSource,
    now: datetime,
    settings: AbsenceSettings | None = None,
    signals: Iterable[str] = SIGNALS,
) -> Freshness:
    """When every signal and route last had data, seen at ``now``.

    The request stream is read per route (its newest is the newest route's):
    one query for both. Raises ConnectorError when the request stream cannot be
    read at all (the backend is down: nothing can be judged); any other signal
    that fails lands in ``errors``. A signal the source does not offer
    (ValueError: no query for it in the scheme) is left out.
    """
    settings = settings or AbsenceSettings()
    out = Freshness(now, settings)
    try:
        routes = _newest(metrics, STREAM, "route", now, settings)
    except ValueError:  # no route label in this scheme: the stream as a whole
        routes = {}
        whole = _newest(metrics, STREAM, "none", now, settings)
        if "" in whole:
            out.signals[STREAM] = whole[""]
    else:
        out.routes.update(routes)
        if routes:
            out.signals[STREAM] = max(routes.values())
    for signal in signals:
        if signal == STREAM:
            continue
        try:
            found = _newest(metrics, signal, "none", now, settings)
        except ValueError:
            continue
        except ConnectorError as exc:
            out.errors[signal] = _line(exc)
            continue
        if "" in found:
            out.signals[signal] = found[""]
    return out


def alerts(fresh: Freshness) -> list[Alert]:
    """The absence alerts of a reading, worst first: a page when the whole request
    stream is gone (with what stopped with it in ``detail``), a ticket per route
    or signal that stopped on its own."""
    now, after = fresh.now, fresh.settings.after
    out: list[Alert] = []
    routes = fresh.absent_routes()
    signals = {s: t for s, t in fresh.absent_signals().items() if s != STREAM}
    stream = fresh.silent_since(STREAM)
    if stream is not None:
        # What stopped within ``after`` of the stream stopped with it.
        with_it = stream - after
        folded_routes = sorted(r for r, t in routes.items() if t >= with_it)
        folded_signals = sorted(s for s, t in signals.items() if t >= with_it)
        also = []
        if folded_routes:
            also.append(f"routes {', '.join(folded_routes)}")
        if folded_signals:
            also.append(f"signals {', '.join(folded_signals)}")
        out.append(
            _alert(
                "absent:requests",
                "page",
                f"{no_data_text(stream, now)} for requests",
                {"signal": STREAM},
                stream,
                fresh,
                "no request counted anywhere"
                + (f"; stopped with it: {'; '.join(also)}" if also else ""),
            )
        )
        for r in folded_routes:
            routes.pop(r)
        for s in folded_signals:
            signals.pop(s)
    for route, t in sorted(routes.items()):
        out.append(
            _alert(
                f"absent:{route}:requests",
                "ticket",
                f"{no_data_text(t, now)} for requests on {route}",
                {"signal": STREAM, "route": route},
                t,
                fresh,
                f"no request counted on {route}",
            )
        )
    for signal, t in sorted(signals.items()):
        out.append(
            _alert(
                f"absent:{signal}",
                "ticket",
                f"{no_data_text(t, now)} for {signal}",
                {"signal": signal},
                t,
                fresh,
                f"the query for {signal} answers nothing (a scrape or exporter that stopped?)",
            )
        )
    return sorted(out, key=Alert.rank)


def evaluate(
    metrics: MetricsSource, now: datetime, settings: AbsenceSettings | None = None
) -> list[Alert]:
    """The absence alerts at ``now`` (``read`` then ``alerts``). Raises
    ConnectorError when the request stream cannot be read."""
    return alerts(read(metrics, now, settings))


def _alert(
    key: str,
    severity: Any,
    title: str,
    labels: dict[str, str],
    newest: datetime,
    fresh: Freshness,
    why: str,
) -> Alert:
    after = fresh.settings.after
    silent = fresh.now - newest
    return Alert(
        key=key,
        kind="absent",
        severity=severity,
        state="firing",
        title=title,
        labels=labels,
        onset=newest + after,
        observed=round(silent.total_seconds() / 60, 1),
        objective=after.total_seconds() / 60,
        detail=(
            f"{why}; last data {newest:%Y-%m-%d %H:%M:%S}Z, {_minutes(silent)} ago "
            f"(absent after {_minutes(after)})"
        ),
    )


def _minutes(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
