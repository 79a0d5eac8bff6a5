"""When the Overview's signals last had data, for "no data since HH:MM" on the
panels and KPI cards (the reading and its rules: console/alerts/absence.py).

The Overview must draw whatever it can: a reading that fails leaves the panels
as they are (their own errors say what is wrong) and is reported as a problem,
never raised.
"""

from __future__ import annotations

from datetime import datetime

from connectors.base import MetricsSource
from console.alerts import absence
from console.core.errors import LlmdeckError
from console.core.session import Session


def settings(session: Session) -> absence.AbsenceSettings:
    """The profile's ``alerts:`` settings (checked when the file was loaded).
    Raises ConfigError for a profile built in code with a bad section."""
    return absence.AbsenceSettings.from_settings(session.profile.settings)


def read(
    session: Session, metrics: MetricsSource, now: datetime
) -> tuple[absence.Freshness | None, str]:
    """(the reading at ``now``, "") or (None, why it could not be read)."""
    try:
        return absence.read(metrics, now, settings(session)), ""
    except (LlmdeckError, ValueError) as exc:
        text = str(exc).strip()
        return None, f"newest data: {text.splitlines()[0] if text else type(exc).__name__}"
