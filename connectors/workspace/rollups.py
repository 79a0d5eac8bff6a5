"""Reading the workspace's per-minute and per-hour rollups: which table
answers which part of a window, and percentiles from their latency buckets.

Shared by the metrics connector and the console's per-version traffic, so
both read the same rows the same way.
"""

from __future__ import annotations

from connectors.workspace.schema import LATENCY_BOUNDS_MS


def quantile(q: float, buckets: list[float]) -> float | None:
    """``histogram_quantile`` over per-bucket counts with LATENCY_BOUNDS_MS edges."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    lower = 0.0
    for i, count in enumerate(buckets):
        upper = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else None
        if count and seen + count >= rank:
            if upper is None:  # +Inf bucket: Prometheus answers the last finite bound
                return lower
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper if upper is not None else lower
    return lower


def pieces(start_s: int, end_s: int) -> list[tuple[str, int, int]]:
    """Split [start, end) into (table, from, to) reads: whole hours from the
    hourly rollup, the rest from the per-minute one."""
    if end_s - start_s <= 6 * 3600:
        return [("rollup_minute", start_s, end_s)]
    first_hour = -(-start_s // 3600) * 3600
    last_hour = end_s // 3600 * 3600
    out = [("rollup_hour", first_hour, last_hour)]
    if start_s < first_hour:
        out.append(("rollup_minute", start_s, first_hour))
    if last_hour < end_s:
        out.append(("rollup_minute", last_hour, end_s))
    return out
