"""Suspect ranking for one alert on a 1,000,000-record workspace (target < 200 ms).

Builds (or reuses) the cached demo workspace of bench/workspace.py, makes the
alerts by hand (the engine is not needed to rank one) with their onset at the
demo's canary, and times ``console.alerts.suspects.rank``: cold (the first
call on a new session: connectors built, the store opened, SQLite's page
cache empty) and warm (median and max of N calls on the same session).

    python -m bench.suspects [--records 1000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

from bench.workspace import FIXED_NOW, demo_session, ensure
from console.alerts.model import Alert
from console.alerts.suspects import rank
from console.demo.world import CANARY_AGO, INCIDENT_ROUTE

ONSET = FIXED_NOW - CANARY_AGO + timedelta(minutes=5)


def alerts() -> list[Alert]:
    def alert(key: str, signal: str, objective: float, **labels: str) -> Alert:
        return Alert(
            key=key,
            kind="budget" if signal == "cost" else "slo",
            severity="page",
            state="firing",
            title=key,
            labels={**labels, "signal": signal, "objective": signal},
            onset=ONSET,
            objective=objective,
        )

    return [
        alert(
            f"slo:{INCIDENT_ROUTE}:refusal_rate:page", "refusal_rate", 0.05, route=INCIDENT_ROUTE
        ),
        alert(
            f"slo:{INCIDENT_ROUTE}:p95_latency_ms:page", "slow_share", 6500, route=INCIDENT_ROUTE
        ),
        alert("budget:acme:spend:page", "cost", 60.0, tenant="acme"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    path = ensure(args.records)
    for alert in alerts():
        session = demo_session(path)
        started = time.perf_counter()
        found = rank(session, alert)
        cold = (time.perf_counter() - started) * 1000
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            rank(session, alert)
            times.append((time.perf_counter() - started) * 1000)
        session.close()
        print(
            f"{alert.key}: cold {cold:6.1f} ms, warm median {statistics.median(times):6.1f} ms, "
            f"max {max(times):6.1f} ms ({len(found)} suspects)"
        )
        for s in found[:3]:
            print(f"    {s.evidence}")


if __name__ == "__main__":
    main()
