"""Request-log reads on a 1,000,000-record workspace: the first page of each
filter, the next page, full-text search, and the sorts. Issue 5 asks for a
first page under 100 ms, a next page under 50 ms, full-text search under
300 ms. Prints the median of several runs per query and its plan's index.

    python -m bench.requests_query [RECORDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import timedelta

from bench.workspace import FIXED_NOW, ensure
from connectors.base import RequestFilter
from connectors.request_log.workspace import WorkspaceRequestLog
from console.demo.world import hashed
from console.requests.query import fts_query

PAGE = 100  # what the Requests screen reads at a time
RUNS = 7


def timed(fn: object) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main(records: int = 1_000_000) -> None:
    ws = ensure(records)
    log = WorkspaceRequestLog(path=ws / "store.db")
    conn = log._conn()
    total = conn.execute("SELECT MAX(rowid) FROM requests").fetchone()[0]
    print(f"store: {ws / 'store.db'} (~{total:,} requests), page = {PAGE} rows, median of {RUNS}")
    filters = {
        "everything, newest first": RequestFilter(),
        "route": RequestFilter(route="/support/chat"),
        "tenant": RequestFilter(tenant=hashed("tenant", "umbrella")),
        "model": RequestFilter(model="claude-3-5-haiku"),
        "prompt version": RequestFilter(prompt_version="14"),
        "status=error": RequestFilter(status="error"),
        "blocked": RequestFilter(blocked=True),
        "refusal": RequestFilter(refusal=True),
        "route + version + refusal": RequestFilter(
            route="/support/chat", prompt_version="14", refusal=True
        ),
        "last 1 h": RequestFilter(since=FIXED_NOW - timedelta(hours=1)),
        "tenant, 3 days ago": RequestFilter(
            tenant=hashed("tenant", "hooli"), until=FIXED_NOW - timedelta(days=3)
        ),
        "sort by latency": RequestFilter(order="latency_ms"),
        "sort by cost, route": RequestFilter(route="/analytics/sql", order="cost_usd"),
    }
    texts = {
        "FTS common word": RequestFilter(text=fts_query(["password"])),
        "FTS two words": RequestFilter(text=fts_query(["export", "CSV"])),
        "FTS rare word + tenant": RequestFilter(
            text=fts_query(["invoices"]), tenant=hashed("tenant", "acme")
        ),
    }
    print(f"{'query':<28} {'first page':>11} {'next page':>10}  plan")
    worst_first = worst_next = worst_fts = 0.0
    for name, flt in {**filters, **texts}.items():
        first = log.page(flt, limit=PAGE)
        first_ms = timed(lambda flt=flt: log.page(flt, limit=PAGE))
        next_ms = float("nan")
        if first.next_cursor:
            cursor = first.next_cursor
            next_ms = timed(lambda flt=flt, c=cursor: log.page(flt, limit=PAGE, cursor=c))
        plan = log.explain(flt, first.next_cursor).replace("\n", " | ")
        print(f"{name:<28} {first_ms:9.1f}ms {next_ms:8.1f}ms  {plan[:90]}")
        if name in texts:
            worst_fts = max(worst_fts, first_ms)
        elif not name.startswith("sort"):
            worst_first = max(worst_first, first_ms)
            worst_next = max(worst_next, next_ms if next_ms == next_ms else 0.0)
    print(
        f"worst first page {worst_first:.1f} ms (< 100), worst next page {worst_next:.1f} ms "
        f"(< 50), worst full-text search {worst_fts:.1f} ms (< 300)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
