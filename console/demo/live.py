"""Live traffic for the demo: a thread that appends requests every second.

It reads the workspace's flag file on every tick, the way a gateway would,
so a flag flip in the console changes the traffic that follows. On start it
fills the gap since the newest stored request (at most ``max_gap``), so a
workspace reopened later has no hole in its charts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.workspace.schema import connect
from connectors.workspace.store import insert_rows
from console.demo.traffic import Routing, Traffic, routing_from_flags

log = logging.getLogger(__name__)


class LiveTraffic:
    """Appends demo traffic to ``workspace/store.db`` until stopped."""

    def __init__(
        self,
        workspace: Path,
        *,
        interval: float = 1.0,
        rate_scale: float = 1.0,
        max_gap: timedelta = timedelta(hours=6),
    ) -> None:
        self.workspace = workspace
        self.interval = interval
        self.rate_scale = rate_scale
        self.max_gap = max_gap
        self.appended = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-live-traffic", daemon=True)
        self._routing = Routing()
        self._flags_stamp: tuple[float, int] | None = None

    def start(self) -> LiveTraffic:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def routing(self) -> Routing:
        """The routing the flag file asks for now (the last good one if it is broken)."""
        path = self.workspace / "flags.json"
        try:
            st = path.stat()
            stamp = (st.st_mtime, st.st_size)
            if stamp != self._flags_stamp:
                self._routing = routing_from_flags(json.loads(path.read_bytes()))
                self._flags_stamp = stamp
        except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
            log.warning("flag file unreadable, keeping the last routing: %s", exc)
        return self._routing

    def tick(self, traffic: Traffic, start: float, end: float) -> int:
        """Append the requests that arrived in [start, end); returns how many."""
        ts = traffic.timestamps(start, end, self.rate_scale)
        if not len(ts):
            return 0
        return insert_rows(self._conn, traffic.rows(ts, self.routing()))

    def _run(self) -> None:
        try:
            self._conn = connect(self.workspace / "store.db", create=False)
            newest = self._conn.execute("SELECT MAX(ts) FROM requests").fetchone()[0]
            now = time.time()
            last = max(newest / 1000 if newest else now, now - self.max_gap.total_seconds())
            traffic = Traffic(datetime.now(UTC), seed=time.time_ns() % 65_521)
            while not self._stop.is_set():
                # A gap left by a closed console is filled in five-minute slices,
                # so stopping stays prompt and the charts fill in as it goes.
                end = min(time.time(), last + 300)
                if end > last:
                    self.appended += self.tick(traffic, last, end)
                    last = end
                if time.time() - last < 1:
                    self._stop.wait(self.interval)
        except Exception as exc:  # the console keeps running; the footer shows why
            self.error = f"live traffic stopped: {exc}"
            log.exception("live traffic stopped")
