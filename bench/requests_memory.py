"""Memory with the Requests screen open on a 1,000,000-record workspace:
resident set size after the first page, after paging down through ten pages,
after a filter and a full-text search, and with a request's detail open.
Issue 5 asks for under 300 MB resident.

    python -m bench.requests_memory [RECORDS]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench.workspace import FIXED_NOW, ensure


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(records: int) -> None:
    from console.core import clock
    from console.core.config import load_config
    from console.core.session import Session
    from screens.app import LlmdeckApp
    from screens.requests import RequestsScreen

    ws = ensure(records)
    clock.freeze(FIXED_NOW)
    session = Session(load_config(ws / "llmdeck.yaml").profile("demo"))

    class RequestsFirst(LlmdeckApp):
        DEFAULT_MODE = "requests"
        CSS_PATH = str(
            Path(sys.modules[LlmdeckApp.__module__].__file__ or "").with_name("app.tcss")
        )

    app = RequestsFirst(session)
    async with app.run_test(size=(160, 48)) as pilot:

        async def settle() -> None:
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()

        await settle()
        print(f"overview open:                    RSS {rss_mb():6.1f} MB")
        app.switch_mode("requests")
        await settle()
        screen = app.screen
        assert isinstance(screen, RequestsScreen)
        print(f"first page ({len(screen.records)} rows):           RSS {rss_mb():6.1f} MB")
        for _ in range(10):
            await pilot.press("ctrl+end")
            await settle()
        print(f"after paging ({len(screen.records)} rows):        RSS {rss_mb():6.1f} MB")
        screen.set_filter(screen.filter.__class__(route="/support/chat", refusal=True))
        await settle()
        from console.requests.query import parse_quick

        screen.set_filter(parse_quick("password"))
        await settle()
        print(f"after filter + full-text search:  RSS {rss_mb():6.1f} MB")
        await pilot.press("enter")
        await settle()
        print(f"with a request's detail open:     RSS {rss_mb():6.1f} MB")
    print(f"peak resident (VmHWM): {peak_mb():.1f} MB (requirement: < 300 MB)")


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
