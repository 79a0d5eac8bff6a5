"""One SQLite connection per thread for the workspace connectors.

Refresh workers run in threads, and a sqlite3 connection must not be used by
two threads at once; opening one per thread on first use is cheap and needs
no lock.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from connectors.workspace.schema import connect


class PerThreadStore:
    """Base for connectors that read ``store.db``: ``self._conn()`` is this thread's."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, create=False)
            self._local.conn = conn
        return conn
