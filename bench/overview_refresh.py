"""All Overview panels on a 1,000,000-record workspace: work per refresh
(target < 250 ms).

One refresh is what the Overview's two pollers run: the KPI strip, then every
chart, the change markers, the budgets and the SLOs (console.overview.refresh).
Steady refreshes read only the chart steps still open (console.core.series_cache);
the first load after a range or grouping change reads them all and is
printed too.
Timed per range and grouping on the cached workspace of bench/workspace.py.

    python -m bench.overview_refresh [--records 1000000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.workspace import demo_session, ensure
from console.core.config import load_config
from console.core.session import Session
from console.core.spans import RANGES
from console.overview import kpis
from console.overview import refresh as overview_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    ws = ensure(args.records)
    session = demo_session(ws)
    worst = 0.0
    for group in ("none", "prompt_version"):
        for name, rng in RANGES.items():
            # The first load after opening the screen or switching range/grouping
            # reads every step; later refreshes read only the steps still open.
            fresh = Session(load_config(ws / "llmdeck.yaml").profile("demo"))
            started = time.perf_counter()
            overview_data.load(fresh, rng, group)
            first = (time.perf_counter() - started) * 1000
            fresh.close()
            overview_data.load(session, rng, group)
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                kpis.cards(kpis.load(session, rng))
                data = overview_data.load(session, rng, group)
                times.append((time.perf_counter() - started) * 1000)
            errors = [k for k, p in data.panels.items() if p.error] + data.problems
            med = statistics.median(times)
            worst = max(worst, med)
            print(
                f"overview refresh {name:>4} by {group:14}: median {med:6.1f} ms, "
                f"max {max(times):6.1f} ms (first load {first:6.1f} ms)"
                f"{'  ERRORS ' + str(errors) if errors else ''}"
            )
    print(f"worst median: {worst:.1f} ms (target < 250 ms)")


if __name__ == "__main__":
    main()
