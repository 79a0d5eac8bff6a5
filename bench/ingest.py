"""Ingest speed: 1,000,000 seed-schema JSONL records into a workspace store
(primary key, composite indexes, full-text index and rollups maintained)
against a plain ``sqlite-utils insert --nl`` of the same file into an
unindexed table, measured in the same run. Issue 5 asks for at least half
the speed of the plain insert (ratio >= 0.5).

    python -m bench.ingest [RECORDS]

The JSONL file is exported once from the cached demo workspace of
bench/workspace.py and kept under /tmp.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson

from bench.workspace import ensure
from connectors.request_log.workspace import row_record


def export_jsonl(records: int) -> Path:
    """The demo workspace's requests as seed-schema JSONL (cached)."""
    path = Path(f"/tmp/llmdeck-bench-{records}.jsonl")
    if path.exists():
        return path
    ws = ensure(records)
    conn = sqlite3.connect(ws / "store.db")
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as fh:
        cur = conn.execute("SELECT * FROM requests ORDER BY rowid LIMIT ?", (records,))
        while rows := cur.fetchmany(10_000):
            fh.write(b"".join(orjson.dumps(row_record(r).to_dict()) + b"\n" for r in rows))
    conn.close()
    tmp.rename(path)
    return path


def main(records: int = 1_000_000) -> None:
    src = export_jsonl(records)
    size_mb = src.stat().st_size / 1e6
    with open(src, "rb") as fh:
        lines = sum(1 for _ in fh)
    print(f"input: {src} ({lines:,} records, {size_mb:,.0f} MB)")
    work = Path("/tmp/llmdeck-bench-ingest")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    sqlite_utils = Path(sys.executable).with_name("sqlite-utils")
    started = time.perf_counter()
    subprocess.run(
        [str(sqlite_utils), "insert", str(work / "plain.db"), "requests", str(src), "--nl"],
        check=True,
    )
    plain_s = time.perf_counter() - started
    print(f"sqlite-utils insert --nl (no index): {plain_s:7.1f} s  {lines / plain_s:9,.0f} rec/s")

    from connectors.workspace.schema import connect
    from console.ingest.runner import expand, ingest

    conn = connect(work / "store.db")
    sources, _ = expand([str(src)])
    started = time.perf_counter()
    report = ingest(conn, sources)
    ours_s = time.perf_counter() - started
    conn.execute("ANALYZE")
    conn.close()
    print(
        f"llmdeck ingest (pk, 9 indexes, FTS, rollups): {ours_s:7.1f} s  "
        f"{report.added / ours_s:9,.0f} rec/s  ({report.added:,} added, {report.bad} malformed)"
    )
    print(f"speed ratio llmdeck / sqlite-utils: {plain_s / ours_s:.2f} (requirement: >= 0.5)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
