"""Key presses while the Overview refreshes every second (target: answered within
100 ms, no frame stall longer than that).

Runs the console headless (Textual's test driver, 160x48) on the cached
1M-record workspace with ``refresh_seconds: 1``. A 5 ms heartbeat on the event
loop measures the longest stall (a frame cannot be drawn during one); every
half second the group key ``g`` is sent (as a terminal would, straight to the
driver) and the time until the new grouping shows on screen is the key's
latency; each press also starts a fresh, full query in the refresh worker.

    python -m bench.keypress_latency [--seconds 20] [--records 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from textual import events
from textual.widgets import Static

from bench.workspace import FIXED_NOW, ensure
from console.core import clock
from console.core.config import load_config
from console.core.session import Session
from screens.app import LlmdeckApp


def profile_with_refresh(ws: Path, seconds: float) -> Path:
    text = (ws / "llmdeck.yaml").read_text()
    out = ws / "bench-refresh.yaml"
    out.write_text(
        text.replace(
            "environment: development",
            f"environment: development\n    refresh_seconds: {seconds}",
            1,
        )
    )
    return out


async def run(ws: Path, seconds: float) -> None:
    clock.freeze(None)
    session = Session(load_config(profile_with_refresh(ws, 1.0)).profile("demo"))
    # Live time, but on the workspace's history: freeze at its end and let it move.
    start_real = time.time()
    app = LlmdeckApp(session)
    gaps: list[float] = []
    keys: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(2.0)  # first frame, charts mounted and loaded
        loop = asyncio.get_running_loop()
        last = loop.time()
        stop = loop.time() + seconds

        async def heartbeat() -> None:
            nonlocal last
            while loop.time() < stop:
                await asyncio.sleep(0.005)
                now = loop.time()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())

        def send(key: str, char: str | None) -> None:
            # Straight to the driver's queue, as a terminal key would arrive: the
            # Pilot's press() also waits for the process to go idle, which the
            # refresh workers prevent.
            event = events.Key(key, char)
            event.set_sender(app)
            assert app._driver is not None
            app._driver.send_message(event)

        presses = 0
        while loop.time() < stop - 0.5:
            clock.freeze(
                FIXED_NOW.fromtimestamp(
                    FIXED_NOW.timestamp() + time.time() - start_real, FIXED_NOW.tzinfo
                )
            )
            # "g" changes the grouping: the screen says so at once, the figures
            # follow from the worker. Answered = the new grouping is on screen.
            status = app.screen.query_one("#kpi-status", Static)
            before = app.screen.group_by  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            send("g", "g")
            while app.screen.group_by == before or "group by " + app.screen.group_by not in str(  # type: ignore[attr-defined]
                status.render()
            ):
                await asyncio.sleep(0.001)
            keys.append(time.perf_counter() - t0)
            presses += 1
            await asyncio.sleep(0.5)
        await beat
        refreshes = (
            app.screen.charts_poller.refreshes if hasattr(app.screen, "charts_poller") else 0
        )  # type: ignore[attr-defined]
    keys_ms = sorted(k * 1000 for k in keys)
    stalls_ms = sorted(g * 1000 for g in gaps)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    print(
        f"{len(keys)} key presses during {seconds:.0f} s of 1 s refreshes "
        f"({refreshes} chart refreshes)"
    )
    print(
        f"key -> screen answered: median {statistics.median(keys_ms):.1f} ms, "
        f"p95 {keys_ms[int(len(keys_ms) * 0.95) - 1]:.1f} ms, max {keys_ms[-1]:.1f} ms"
    )
    print(
        "event-loop stall (5 ms heartbeat): "
        f"p99 {stalls_ms[int(len(stalls_ms) * 0.99) - 1]:.1f} ms, "
        f"max {stalls_ms[-1]:.1f} ms; target < 100 ms"
    )
    clock.freeze(None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    asyncio.run(run(ensure(args.records), args.seconds))


if __name__ == "__main__":
    main()
