"""The console's screens, in number-key order.

Each entry names its class by ``module:Class`` so that a screen is imported
only when first shown: the first frame pays for the Overview alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from textual.screen import Screen


@dataclass(frozen=True)
class ScreenEntry:
    mode: str
    title: str
    target: str
    description: str

    def factory(self) -> Callable[[], Screen[object]]:
        def make() -> Screen[object]:
            module, _, cls = self.target.partition(":")
            return getattr(importlib.import_module(module), cls)()

        return make


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry(
        "overview",
        "Overview",
        "screens.overview:OverviewScreen",
        "live KPIs, charts and change markers",
    ),
    ScreenEntry("drift", "Drift", "screens.drift:DriftScreen", "current vs baseline per group"),
    ScreenEntry("requests", "Requests", "screens.requests:RequestsScreen", "logged requests"),
    ScreenEntry(
        "registry",
        "Registry",
        "screens.registry:RegistryScreen",
        "prompt and model versions, aliases, lineage",
    ),
    ScreenEntry("diff", "Diff", "screens.diff:DiffScreen", "two prompt versions side by side"),
    ScreenEntry("flags", "Flags", "screens.flags:FlagsScreen", "flags, kill switches, rollback"),
    ScreenEntry("audit", "Audit", "screens.audit:AuditScreen", "audit log and backend events"),
    ScreenEntry("replays", "Replays", "screens.replay_batch:ReplayBatchScreen", "batch replay"),
    ScreenEntry(
        "alerts", "Alerts", "screens.alerts:AlertsScreen", "firing alerts and what changed"
    ),
)
