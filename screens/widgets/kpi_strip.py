"""The KPI strip: one card per figure, with a stale marker when its source fails."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from console.overview.kpis import CARD_KEYS, KpiCard

__all__ = ["CARD_KEYS", "KpiStrip"]


class KpiStrip(Vertical):
    """Cards in a row and, under them, the range and the freshness of the data."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="kpi-cards"):
            for key in CARD_KEYS:
                with Vertical(classes="kpi-card", id=f"kpi-{key}"):
                    yield Static("", classes="kpi-value")
                    yield Static(key, classes="kpi-label")
        yield Static("loading…", id="kpi-status")

    def show(self, cards: list[KpiCard], caption: str) -> None:
        for card in cards:
            box = self.query_one(f"#kpi-{card.key}")
            # "no data since 03:10" is wider than a card: "no data" as the value
            # and the time in the bottom border, the label kept.
            value = "no data" if card.since is not None else card.text
            box.query_one(".kpi-value", Static).update(value)
            box.query_one(".kpi-label", Static).update(_label(card))
            box.border_subtitle = card.text.removeprefix("no data ") if card.since else ""
            box.set_class(card.since is not None, "-nodata")
            # Severity is a class the theme colours (app.tcss): warn and bad stand
            # out at any range; the label says why in words too, not by colour alone.
            for severity in ("ok", "warn", "bad"):
                box.set_class(card.severity == severity, f"-{severity}")
            box.tooltip = card.why or None
        self.remove_class("-stale")
        self.query_one("#kpi-status", Static).update(caption)

    def stale(self, since: datetime, reason: str) -> None:
        self.add_class("-stale")
        self.query_one("#kpi-status", Static).update(f"stale since {since:%H:%M:%S}: {reason}")


def _label(card: KpiCard) -> str:
    """The label, with the short reason of a warn or bad: "refusals 1.7x", "SLO"."""
    if card.severity == "ok" or not card.why or card.since is not None:
        return card.label
    if card.why.endswith("not a rate"):  # kpis.invalid_rate: the figure is not shown
        return f"{card.label}: not a rate"
    if card.why.startswith("backend error"):  # its own query failed (tooltip: why)
        return card.label
    short = "SLO" if card.why.startswith("SLO") else card.why.split()[0]
    return f"{card.label} {short}"
