"""Demo generation: time to create the demo workspace (target: 200k records < 20 s).

python bench/demo_generate.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from console.demo.workspace import create


def main() -> None:
    path = Path(tempfile.mkdtemp()) / "ws"
    started = time.perf_counter()
    result = create(path)
    took = time.perf_counter() - started
    print(
        f"demo workspace: {result.records:,} records in {took:.1f} s "
        f"({result.records / took:,.0f} records/s); "
        f"per 200,000: {took * 200_000 / result.records:.1f} s"
    )


if __name__ == "__main__":
    main()
