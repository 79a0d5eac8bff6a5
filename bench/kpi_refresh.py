"""KPI refresh on a 1,000,000-record workspace: work per refresh (target < 200 ms).

Times the KPI strip's load (what the Overview's poller runs each refresh) for
every range, on a cached 1M-record workspace (bench/workspace.py).

    python -m bench.kpi_refresh [--records 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.workspace import demo_session, ensure
from console.core.spans import RANGES
from console.overview import kpis


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    args = ap.parse_args()
    session = demo_session(ensure(args.records))
    for name, rng in RANGES.items():
        kpis.load(session, rng)  # warm the page cache
        times = []
        for _ in range(20):
            started = time.perf_counter()
            kpis.cards(kpis.load(session, rng))
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"KPI refresh {name:>4}: median {statistics.median(times):6.1f} ms, "
            f"max {max(times):6.1f} ms"
        )


if __name__ == "__main__":
    main()
