"""Alert evaluation per refresh on a 1,000,000-record workspace (goal < 50 ms).

A refresh evaluates every rule of the demo profile (the route and prompt SLOs,
five tenant budgets) on the per-minute grid of the page windows and the hourly
grid of the ticket windows, then records the lifecycle (console.alerts.board).
The first evaluation of a session reads every step of the grids; later ones
read only the steps still open, as the Overview's refreshes do.

    python -m bench.alerts [--records 1000000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.workspace import FIXED_NOW, demo_session, ensure
from console.alerts import engine
from console.alerts.board import current
from console.core.config import load_config
from console.core.session import Session


def _session(ws) -> Session:  # type: ignore[no-untyped-def]
    session = Session(load_config(ws / "llmdeck.yaml").profile("demo"))
    # A workspace made before the demo had its prompt SLO still gets the rule the
    # demo pages on, so the figure includes a per-version scope.
    slos = session.profile.settings.setdefault("slos", {})
    slos.setdefault("prompt support-answer", {"refusal_rate": 0.01})
    return session


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    ws = ensure(args.records)
    demo_session(ws).close()  # freezes the clock at the end of the history
    colds = []
    for _ in range(3):
        fresh = _session(ws)
        t = time.perf_counter()
        board = engine.evaluate(fresh)
        colds.append((time.perf_counter() - t) * 1000)
        fresh.close()
    session = _session(ws)
    current(session, drift="off")
    warm = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        board = current(session, drift="off")
        warm.append((time.perf_counter() - t) * 1000)
    n_rules = len(engine.rules(session.profile.settings))
    print(f"at {FIXED_NOW:%Y-%m-%d %H:%M} UTC: {n_rules} rules, {len(board.alerts)} alerts")
    for a in board.alerts:
        print(f"  {a.state} {a.severity} {a.title}")
    print(f"first evaluation of a session (all grid steps read): {statistics.median(colds):.1f} ms")
    print(
        f"alert evaluation per refresh (with lifecycle): median {statistics.median(warm):.1f} ms, "
        f"p90 {sorted(warm)[int(len(warm) * 0.9) - 1]:.1f} ms, max {max(warm):.1f} ms "
        f"over {args.repeat} (goal < 50 ms)"
    )


if __name__ == "__main__":
    main()
