"""The KPI strip's figures: what the Overview shows and ``llmdeck metrics`` prints."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.records import Kpis
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.core.spans import TimeRange


@dataclass(frozen=True)
class KpiCard:
    """One figure ready to draw: its label, formatted value and raw value."""

    key: str
    label: str
    text: str
    value: float | None


def load(session: Session, rng: TimeRange) -> Kpis:
    """The KPIs over ``rng`` ending now. Raises LlmdeckError or a ConnectorError."""
    metrics = session.metrics()
    if metrics is None:
        raise LlmdeckError("no metrics connector in this profile")
    start, end = rng.window()
    return metrics.kpis(start, end)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _num(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:.1f}M"
    if v >= 10_000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def cards(k: Kpis) -> list[KpiCard]:
    """The strip's cards, in display order."""
    p95 = k.latency_p95_ms
    return [
        KpiCard("requests_per_min", "req/min", _num(k.requests_per_min), k.requests_per_min),
        KpiCard("tokens_in_per_min", "tok in/min", _num(k.tokens_in_per_min), k.tokens_in_per_min),
        KpiCard(
            "tokens_out_per_min", "tok out/min", _num(k.tokens_out_per_min), k.tokens_out_per_min
        ),
        KpiCard("cost_per_hour", "cost/hour", f"${k.cost_per_hour:,.2f}", k.cost_per_hour),
        KpiCard("latency_p95_ms", "p95 latency", "-" if p95 is None else f"{p95:,.0f} ms", p95),
        KpiCard("error_rate", "errors", _pct(k.error_rate), k.error_rate),
        KpiCard("block_rate", "safety blocks", _pct(k.block_rate), k.block_rate),
        KpiCard("refusal_rate", "refusals", _pct(k.refusal_rate), k.refusal_rate),
    ]
