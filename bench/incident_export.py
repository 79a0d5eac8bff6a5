"""The incident export on a 1,000,000-record workspace: impact, timeline and
the whole Markdown postmortem, for incidents of 1 h, 6 h and 2 days.

The incident is made in memory (never stored: the cached workspace is shared
by the other benchmarks and stays unchanged); it ends at the end of the demo's
history, on the demo incident's route.

    python -m bench.incident_export [--records 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from bench.workspace import FIXED_NOW, demo_session, ensure
from console.core.session import Session
from console.incident import export, impact, timeline
from console.incident.record import Incident


def _median_ms(fn: Callable[[], object], runs: int = 5) -> tuple[float, float]:
    fn()  # warm the page cache (and plotext's import)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def _one(session: Session, span: timedelta) -> None:
    conn = session.store()
    incident = Incident(10**9, FIXED_NOW - span, FIXED_NOW, "bench", "sev2", "bench", "demo")
    start, end = timeline.window(incident)
    scope = {"route": ("/support/chat",)}
    figures = impact.measure(conn, start, end, scope)
    cases: dict[str, Callable[[], object]] = {
        "impact": lambda: impact.measure(conn, start, end, scope),
        "series": lambda: impact.series(conn, start, end, scope),
        "timeline": lambda: timeline.build(session, incident),
        "markdown": lambda: export.markdown(export.collect(session, incident)),
    }
    label = f"{int(span.total_seconds() // 3600)} h incident ({figures.requests:,} requests)"
    for name, fn in cases.items():
        median, worst = _median_ms(fn)
        print(f"{label:36} {name:9} median {median:7.1f} ms, max {worst:7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    args = ap.parse_args()
    session = demo_session(ensure(args.records))
    for span in (timedelta(hours=1), timedelta(hours=6), timedelta(days=2)):
        _one(session, span)


if __name__ == "__main__":
    main()
