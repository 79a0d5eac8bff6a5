"""One refresh of everything under the Overview's KPI strip: charts, change
markers, budgets and SLOs. The screen's poller runs ``load`` in a thread; the
benchmark times the same function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.records import ChangeEvent
from console.alerts.absence import Freshness
from console.changelog import markers as changes
from console.core import series_cache
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.core.spans import TimeRange
from console.overview import budgets, freshness, panels, slo
from console.overview.panels import PanelData


@dataclass
class OverviewData:
    """Panels (each with its own error and absence), markers, budgets, SLOs, when
    each signal last had data, and what failed."""

    panels: dict[str, PanelData]
    changes: tuple[ChangeEvent, ...] = ()
    # The latest changes before the range: at a short range the cause of what the
    # charts show often happened just before it (a canary 3 h ago, seen at 1 h).
    earlier: tuple[ChangeEvent, ...] = ()
    costs: list[budgets.ModelCost] = field(default_factory=list)
    budgets: list[budgets.Budget] = field(default_factory=list)
    slos: list[slo.SloStatus] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fresh: Freshness | None = None


def load(session: Session, rng: TimeRange, group_by: str) -> OverviewData:
    """Everything under the strip over ``rng``. Raises LlmdeckError only when the
    profile has no metrics source; any other failure lands in ``problems`` or in
    a panel's ``error``."""
    start, end = session.view.window(rng)
    metrics = series_cache.metrics_source(session)
    fresh, why = freshness.read(session, metrics, end)
    data = OverviewData(panels.load_panels(session, rng, group_by, fresh, end), fresh=fresh)
    if why:
        data.problems.append(why)
    found = changes.load(session, start, end)
    data.changes = found.events
    data.problems.extend(found.problems)
    data.earlier = changes.latest_before(session, start)
    settings = session.profile.settings
    try:
        data.costs = budgets.model_costs(metrics, settings, start, end)
    except (LlmdeckError, ValueError) as exc:
        data.problems.append(f"cost: {_line(exc)}")
    try:
        data.budgets = budgets.budgets(metrics, settings, end)
    except (LlmdeckError, ValueError) as exc:
        data.problems.append(f"budgets: {_line(exc)}")
    try:
        data.slos = slo.evaluate(metrics, settings, end)
    except (LlmdeckError, ValueError) as exc:
        data.problems.append(f"slos: {_line(exc)}")
    return data


def _line(exc: Any) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
