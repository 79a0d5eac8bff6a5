"""Rows that land in the past of a workspace store (a backfill, the demo
filling the gap since it last ran), so cached chart steps can be read again."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class StoreWatch:
    """Notices records that land in the past of a workspace store (a backfill, the
    demo filling the gap since it last ran): the oldest timestamp among the rows
    added since the last look. Reads only the new rows (a rowid range)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_rowid: int | None = None
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def oldest_new(self) -> float | None:
        """Unix seconds of the oldest row added since the last call (None: nothing new)."""
        conn = self._conn()
        if self.last_rowid is None:
            self.last_rowid = conn.execute(
                "SELECT COALESCE(MAX(rowid), 0) FROM requests"
            ).fetchone()[0]
            return None
        top, oldest = conn.execute(
            "SELECT MAX(rowid), MIN(ts) FROM requests WHERE rowid > ?", (self.last_rowid,)
        ).fetchone()
        if top is None:
            return None
        self.last_rowid = top
        return float(oldest) / 1000
