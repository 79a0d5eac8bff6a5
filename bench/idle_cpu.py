"""Idle CPU of the console with a 5 s refresh (target: under 5% of one core).

Starts ``llmdeck`` in a real terminal (tmux, 160x48) on the cached 1M-record
workspace, lets the Overview draw its charts, then reads the process's CPU
time from /proc over a quiet minute (no keys pressed).

    python -m bench.idle_cpu [--seconds 60] [--records 1000000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.workspace import ensure


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    ws = ensure(args.records)
    session = f"idle{os.getpid()}"
    llmdeck = Path(sys.executable).parent / "llmdeck"
    # The workspace's history ends at a fixed time: freeze there so the panels
    # show data (the clock does not move, so every refresh re-reads its tail).
    command = f"LLMDECK_FROZEN_TIME=2026-11-29T12:00:00Z {llmdeck} --config {ws}/llmdeck.yaml"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48", command], check=True
    )
    try:
        time.sleep(8)  # first frame, charts mounted, caches warm
        pid = int(
            subprocess.run(
                ["pgrep", "-n", "-f", f"{llmdeck} --config {ws}/llmdeck.yaml"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[0]
        )
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.seconds)
        c1, t1 = cpu_seconds(pid), time.monotonic()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    share = (c1 - c0) / (t1 - t0) * 100
    print(
        f"idle CPU with 5 s refresh: {share:.2f}% of one core over {t1 - t0:.0f} s "
        f"(load average {os.getloadavg()[0]:.1f}); target < 5%"
    )


if __name__ == "__main__":
    main()
