"""The absence reading per refresh: when every signal and route last had data.

On the cached 1,000,000-record workspace (bench/workspace.py): a fresh reading
(what every refresh pays while something is absent), and a reused one (while
nothing can have become absent yet). With ``--prometheus URL``, the same against
a Prometheus server at a moment ``--at`` (ISO 8601, default now).

    python -m bench.absence [--records 1000000] [--prometheus URL --at ISO]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.workspace import FIXED_NOW, ensure
from connectors.base import MetricsSource
from console.alerts import absence


def _time(fn: Callable[[], object], n: int = 20) -> tuple[float, float]:
    fn()  # warm the page cache
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def _report(name: str, metrics: MetricsSource, now: datetime) -> None:
    def fresh() -> None:
        absence._READINGS.clear()
        if hasattr(metrics, "_local"):
            metrics._local.newest = None
        absence.read(metrics, now)

    med, worst = _time(fresh)
    print(f"{name}: fresh reading   median {med:7.1f} ms, max {worst:7.1f} ms")
    absence.read(metrics, now)
    med, worst = _time(lambda: absence.read(metrics, now))
    print(f"{name}: reused reading  median {med:7.2f} ms, max {worst:7.2f} ms")
    alerts = absence.evaluate(metrics, now)
    print(f"{name}: {len(alerts)} absence alerts at {now:%Y-%m-%d %H:%M}Z")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--prometheus", default="")
    ap.add_argument("--at", default="")
    args = ap.parse_args()
    if args.prometheus:
        from connectors.metrics.prometheus import PrometheusMetrics

        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
        _report("prometheus", PrometheusMetrics(url=args.prometheus), at)
        return
    from connectors.metrics.workspace import WorkspaceMetrics

    path = ensure(args.records)
    metrics = WorkspaceMetrics(path=path / "store.db")
    n = metrics._conn().execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    print(f"workspace {path}: {n:,} requests")
    _report("workspace (live)", metrics, FIXED_NOW)
    # Thirty minutes after the history ends: the whole stream is absent.
    _report("workspace (stopped)", metrics, FIXED_NOW + timedelta(minutes=30))


if __name__ == "__main__":
    main()
