"""Registry lineage and per-version traffic on a 1,000,000-record workspace.

Times what the Registry and Diff screens read from the request log for the
incident prompt (``support-answer``), per range: the lineage GROUP BY (prompt
version x model x digest x retrieval index x policy, on the
``(prompt_version, ts)`` index) on a cold hour cache (page cache warm), then
with the hour cache (what every later poll pays), and the per-version traffic
(rollups); prints the lineage query plan.

    python -m bench.registry_lineage [--records 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.workspace import FIXED_NOW, ensure
from connectors.workspace.schema import connect
from connectors.workspace.store import ts_ms
from console.core import clock
from console.core.spans import RANGES
from console.registry.lineage import LineageCache
from console.registry.view import traffic

PROMPT = "support-answer"
VERSIONS = ["11", "12", "13", "14"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    args = ap.parse_args()
    ws = ensure(args.records)
    clock.freeze(FIXED_NOW)
    conn = connect(ws / "store.db", create=False)
    n = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    print(f"workspace {ws}: {n:,} requests")
    start, end = RANGES["24h"].window()
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT prompt_version, COUNT(*) FROM requests "
        "WHERE prompt_version IN (?, ?) AND ts >= ? AND ts < ? AND prompt_id = ? GROUP BY 1",
        ("13", "14", ts_ms(start), ts_ms(end), PROMPT),
    ).fetchall()
    print("lineage plan: " + " / ".join(str(r[-1]) for r in plan))
    for name, rng in RANGES.items():
        start, end = rng.window()
        LineageCache().lineage(conn, PROMPT, VERSIONS, start, end)  # warm the page cache
        cache = LineageCache()
        t0 = time.perf_counter()
        cache.lineage(conn, PROMPT, VERSIONS, start, end)
        first = (time.perf_counter() - t0) * 1000
        lin, tra = [], []
        rows = 0
        for _ in range(5):
            t0 = time.perf_counter()
            found = cache.lineage(conn, PROMPT, VERSIONS, start, end)
            t1 = time.perf_counter()
            traffic(conn, PROMPT, start, end)
            t2 = time.perf_counter()
            lin.append((t1 - t0) * 1000)
            tra.append((t2 - t1) * 1000)
            rows = sum(r.requests for r in found)
        print(
            f"{name:>4}: lineage first {first:7.1f} ms, then median {statistics.median(lin):6.1f}"
            f" ms (hour cache) over {rows:>7,} requests · traffic median "
            f"{statistics.median(tra):6.1f} ms"
        )


if __name__ == "__main__":
    main()
