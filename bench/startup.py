"""Cold start: from launching ``llmdeck`` to the first frame that shows KPIs.

Runs the console in a real terminal (tmux, 160x48) on a demo workspace and
polls the screen until the KPI strip shows its request count. Also times a
bare Textual app the same way, for a ratio measured in the same run.

    python bench/startup.py [--runs 5] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("bare app ready")
Bare().run()
"""


def first_frame(command: str, marker: str, timeout: float = 20.0) -> float:
    """Seconds from starting ``command`` in tmux until ``marker`` is on screen."""
    session = f"bench{time.monotonic_ns()}"
    started = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48", command], check=True
    )
    try:
        while time.perf_counter() - started < timeout:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            if marker in screen:
                return time.perf_counter() - started
            time.sleep(0.005)
        raise TimeoutError(f"{marker!r} not on screen after {timeout} s")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workspace", type=Path, default=None)
    args = ap.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed: apt-get install tmux")
    ws = args.workspace
    if ws is None:
        ws = Path(tempfile.mkdtemp()) / "ws"
        subprocess.run(
            [sys.executable, "-m", "console", "demo", "--dir", str(ws), "--no-ui"],
            check=True,
            capture_output=True,
        )
    bin_dir = Path(sys.executable).parent
    llmdeck = f"{bin_dir}/llmdeck --config {ws}/llmdeck.yaml"
    bare_file = Path(tempfile.mkdtemp()) / "bare.py"
    bare_file.write_text(BARE)
    first_frame(llmdeck, " requests ")  # warm the page cache once
    ours, bare = [], []
    for _ in range(args.runs):
        ours.append(first_frame(llmdeck, " requests "))
        bare.append(first_frame(f"{sys.executable} {bare_file}", "bare app ready"))
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(
        f"llmdeck first frame with KPIs: median {m_ours:.3f} s "
        f"(min {min(ours):.3f}, max {max(ours):.3f}, {args.runs} runs)"
    )
    print(f"bare Textual app first frame:  median {m_bare:.3f} s")
    print(f"ratio llmdeck / bare: {m_ours / m_bare:.2f}x; target: under 1.0 s")


if __name__ == "__main__":
    main()
