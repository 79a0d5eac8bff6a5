"""Batch replay throughput against a plain httpx loop, same server, same run.

Both send the same N chat completions (short prompts, a seed each,
``max_tokens`` 8) to the llama.cpp server with the same concurrency: the plain
loop is an ``httpx.AsyncClient`` under an ``asyncio.Semaphore`` that only
decodes the answer; llmdeck's batch replay builds each request from a logged
record, judges it against the logged output and stores it in a workspace.
Rounds alternate which goes first (plain then replay, replay then plain, ...)
so load from anything else on the machine falls on both alike. Issue 6 asks for a ratio >= 0.9.

    python -m bench.replay_throughput [N] [CONCURRENCY] [ROUNDS]
    (LLMDECK_LLAMA_URL, default http://127.0.0.1:18080/v1)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from connectors.records import RequestRecord
from console.core.config import ConnectorSpec, Profile
from console.core.session import Session
from console.replay.engine import Replayer, ReplayOptions

MODEL = "smollm2-135m"


def records(n: int) -> list[RequestRecord]:
    return [
        RequestRecord(
            request_id=f"req_bench_{i:04d}",
            ts=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
            model_name=MODEL,
            params={"temperature": 0.7, "max_tokens": 8, "seed": 1000 + i},
            messages=({"role": "user", "content": f"Say the number {i}."},),
            output=f"The number is {i}.",
        )
        for i in range(n)
    ]


async def plain(url: str, recs: list[RequestRecord], concurrency: int) -> float:
    """Seconds for the plain loop to get every answer."""
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def one(rec: RequestRecord) -> str:
            async with sem:
                body = {"model": MODEL, "messages": list(rec.messages), **rec.params}
                resp = await client.post(url + "/chat/completions", json=body)
                resp.raise_for_status()
                return str(resp.json()["choices"][0]["message"]["content"])

        started = time.perf_counter()
        outs = await asyncio.gather(*(one(r) for r in recs))
        seconds = time.perf_counter() - started
    assert all(isinstance(o, str) for o in outs)
    return seconds


async def replay(session: Session, recs: list[RequestRecord], concurrency: int) -> float:
    """Seconds for llmdeck's batch replay (built, judged and stored)."""
    replayer = Replayer(session, ReplayOptions(target="bench"))
    try:
        report = await replayer.batch(recs, concurrency=concurrency)
    finally:
        await replayer.aclose()
    failed = [r.error for r in report.results if r.verdict == "failed"]
    if failed:
        raise SystemExit(f"replay failed: {failed[0]}")
    return report.seconds


def main(n: int = 40, concurrency: int = 4, rounds: int = 4) -> None:
    url = os.environ.get("LLMDECK_LLAMA_URL", "http://127.0.0.1:18080/v1").rstrip("/")
    try:
        httpx.get(url + "/models", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        raise SystemExit(
            f"llama server not answering at {url}: {exc}; "
            "run `bash scripts/backends.sh start llama`"
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        profile = Profile(
            name="bench",
            environment="development",
            read_only=False,
            workspace=Path(tmp),
            connectors={},
            replay_targets={"bench": ConnectorSpec("replay", "openai", {"url": url}, "bench")},
        )
        session = Session(profile)
        recs = records(n)
        asyncio.run(plain(url, recs[:4], concurrency))  # warm up the server and the pool
        p_times, r_times = [], []
        for i in range(rounds):
            # Alternate which goes first, so a trend in the machine's load is shared.
            if i % 2 == 0:
                p_times.append(asyncio.run(plain(url, recs, concurrency)))
                r_times.append(asyncio.run(replay(session, recs, concurrency)))
            else:
                r_times.append(asyncio.run(replay(session, recs, concurrency)))
                p_times.append(asyncio.run(plain(url, recs, concurrency)))
            print(
                f"round {i + 1}: plain httpx {n / p_times[-1]:.2f} req/s, "
                f"llmdeck replay {n / r_times[-1]:.2f} req/s",
                flush=True,
            )
        session.close()
    p_rate, r_rate = n / statistics.median(p_times), n / statistics.median(r_times)
    print(f"{n} requests x {rounds} rounds, concurrency {concurrency}, server {url}")
    print(f"plain httpx loop: {p_rate:.2f} req/s (median round)")
    print(f"llmdeck batch replay: {r_rate:.2f} req/s (median round)")
    print(f"ratio replay/plain: {r_rate / p_rate:.3f} (issue 6 asks >= 0.9)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
