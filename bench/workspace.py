"""A large workspace for benchmarks, made once and cached under /tmp.

``python -m bench.workspace 1000000`` makes (or finds) a workspace with about
that many demo requests over 7 days and prints its path.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from console.demo.traffic import MEAN_RATE_PER_MIN

if TYPE_CHECKING:
    from console.core.session import Session

FIXED_NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def ensure(records: int = 1_000_000) -> Path:
    """The path of a demo workspace with about ``records`` requests (cached)."""
    from console.demo import workspace

    path = Path(f"/tmp/llmdeck-bench-{records}")
    if (path / "llmdeck.yaml").exists():
        return path
    scale = records / (MEAN_RATE_PER_MIN * 7 * 1440)
    started = time.perf_counter()
    workspace.create(path, now=FIXED_NOW, rate_scale=scale)
    print(f"made {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def demo_session(path: Path) -> Session:
    """A session on the workspace's demo profile, the clock frozen at the end of its
    history; prints how many requests it holds."""
    from console.core import clock
    from console.core.config import load_config
    from console.core.session import Session

    clock.freeze(FIXED_NOW)
    session = Session(load_config(path / "llmdeck.yaml").profile("demo"))
    n = session.store().execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    print(f"workspace {path}: {n:,} requests")
    return session


if __name__ == "__main__":
    print(ensure(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
