"""The team's own alerts, beside the console's: what the profile's ``alerting:``
sources (Prometheus rules, Alertmanager) say is active, as ``Alert`` records.

Each source answers on its own. One that is down gives the alerts it gave at
its last good read, marked ``stale`` with the reason, and a problem line; the
others still answer. The last good reads are kept per session (a weak map, so
a closed session takes its cache with it).
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import replace
from datetime import datetime

from connectors.base import AlertSource
from connectors.records import ExternalAlert, Silence
from console.alerts.model import Alert, Severity, State
from console.core.errors import LlmdeckError
from console.core.session import Session

# Label values that mean "wake someone": Prometheus' and Alertmanager's
# conventions (critical) and the workbook's (page).
PAGE_SEVERITIES = frozenset({"critical", "page"})

_LAST_GOOD: weakref.WeakKeyDictionary[Session, dict[int, list[Alert]]] = weakref.WeakKeyDictionary()


def external_alerts(session: Session) -> tuple[list[Alert], list[str]]:
    """Every active alert of the profile's alert sources, worst first, and one
    problem line per source that could not be read (or read only in part).

    Never raises for a backend: a source that fails gives its last good
    alerts marked stale (none if it never answered).
    """
    cache = _LAST_GOOD.setdefault(session, {})
    alerts: list[Alert] = []
    problems: list[str] = []
    for index, spec in enumerate(session.profile.alerting):
        try:
            source = session.alert_source(index)
            got, problem = read(source)
        except LlmdeckError as exc:
            reason = str(exc)
            problems.append(f"alerting {spec.kind}: {reason}")
            kept = cache.get(index, [])
            alerts += [replace(a, stale=reason) for a in kept]
            continue
        if problem:
            problems.append(f"alerting {spec.kind}: {problem}")
        cache[index] = got
        alerts += got
    return sorted(alerts, key=Alert.rank), problems


def read(source: AlertSource) -> tuple[list[Alert], str]:
    """One source's alerts as ``Alert`` records, and a problem line ("" when
    none): silences that could not be read leave the alerts' ``silenced_until``
    unknown without failing the read. Raises LlmdeckError when the alerts
    themselves cannot be read."""
    external = source.alerts()
    silences: dict[str, Silence] = {}
    problem = ""
    if any(a.silenced_by for a in external):
        try:
            silences = {s.id: s for s in source.silences()}
        except LlmdeckError as exc:
            problem = f"silences unreadable, silenced alerts shown without an end: {exc}"
    return [to_alert(a, silences) for a in external], problem


def to_alert(alert: ExternalAlert, silences: dict[str, Silence]) -> Alert:
    """One team alert as the console's record: ``kind`` external, ``source``
    the connector kind, severity page for ``severity=critical|page``, else ticket."""
    severity: Severity = (
        "page" if alert.labels.get("severity", "").lower() in PAGE_SEVERITIES else "ticket"
    )
    state: State = "pending" if alert.state == "pending" else "firing"
    shown = {k: v for k, v in sorted(alert.labels.items()) if k != "alertname"}
    key = f"{alert.source}:{alert.name}{{{','.join(f'{k}={v}' for k, v in shown.items())}}}"
    return Alert(
        key=key,
        kind="external",
        severity=severity,
        state=state,
        title=alert.summary or alert.name,
        labels=dict(alert.labels),
        onset=alert.active_since,
        detail=alert.annotations.get("description", ""),
        source=alert.source,
        silenced_until=_silenced_until(alert, silences),
    )


def _silenced_until(alert: ExternalAlert, silences: dict[str, Silence]) -> datetime | None:
    ends = [silences[i].ends for i in alert.silenced_by if i in silences]
    if ends:
        return max(ends)
    # Silenced by a silence we could not read: muted, end unknown; the alert's
    # own end time is the best bound Alertmanager gives.
    if alert.silenced_by and alert.ends is not None:
        return alert.ends
    return None


def forget(session: Session) -> None:
    """Drop the session's last good reads (tests; a profile switch)."""
    with contextlib.suppress(KeyError):
        del _LAST_GOOD[session]
