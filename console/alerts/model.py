"""The alert record every part of the console shares: the engine makes them, the
banner, the Alerts screen, ``llmdeck alerts``, suspects and incidents read them.

An alert is one rule applied to one scope (a route, a prompt version, a tenant,
a metric), identified by a stable ``key`` such as
``slo:/support/chat:refusal_rate`` or ``slo:support-answer@14:refusal_rate``.
Its lifecycle is pending (the condition holds, not yet for long enough),
firing, resolved; ``onset`` is when the condition started to hold and ``ended``
when it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Severity = Literal["page", "ticket"]
State = Literal["pending", "firing", "resolved"]
Kind = Literal["slo", "budget", "drift", "absent", "external"]
SEVERITY_ORDER: dict[str, int] = {"page": 2, "ticket": 1}
STATE_ORDER: dict[str, int] = {"firing": 2, "pending": 1, "resolved": 0}


@dataclass(frozen=True)
class Alert:
    """One alert now.

    ``labels`` say what it is about (route, prompt, version, tenant, signal,
    objective); ``burn`` the burn rate per window (``{"1h": 18.2, "5m": 20.1}``),
    empty for kinds without one; ``observed`` and ``objective`` the figure and
    its target where there are; ``source`` is ``llmdeck`` for the console's own
    rules, ``prometheus`` or ``alertmanager`` for the team's.
    ``stale`` says why the alert could not be re-evaluated (its backend is down):
    it is shown as last seen, never dropped.
    """

    key: str
    kind: Kind
    severity: Severity
    state: State
    title: str
    labels: dict[str, str] = field(default_factory=dict)
    onset: datetime | None = None
    ended: datetime | None = None
    burn: dict[str, float] = field(default_factory=dict)
    observed: float | None = None
    objective: float | None = None
    detail: str = ""
    source: str = "llmdeck"
    acked_by: str = ""
    silenced_until: datetime | None = None
    stale: str = ""

    @property
    def route(self) -> str:
        return self.labels.get("route", "")

    def silenced(self, now: datetime) -> bool:
        return self.silenced_until is not None and self.silenced_until > now

    def rank(self) -> tuple[int, int, float]:
        """Sort key, worst first: firing before pending, page before ticket, hotter burn."""
        hottest = max(self.burn.values(), default=0.0)
        return (-STATE_ORDER[self.state], -SEVERITY_ORDER[self.severity], -hottest)

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "state": self.state,
            "title": self.title,
            "labels": dict(self.labels),
            "onset": iso(self.onset),
            "ended": iso(self.ended),
            "burn": dict(self.burn),
            "observed": self.observed,
            "objective": self.objective,
            "detail": self.detail,
            "source": self.source,
            "acked_by": self.acked_by,
            "silenced_until": iso(self.silenced_until),
            "stale": self.stale,
        }
