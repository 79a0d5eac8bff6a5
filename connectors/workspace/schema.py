"""The workspace store's schema and its versioned migrations.

The schema version lives in ``PRAGMA user_version``. Opening a store reads it
with the standard library only; ``sqlite_utils`` (which imports pandas, half a
second) is imported only when a migration actually has to run.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database

# Latency histogram bucket upper bounds (ms) kept in the rollups, as a
# Prometheus histogram would; the last bucket is +Inf.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    7500,
    10000,
    20000,
)
N_LAT_BUCKETS = len(LATENCY_BOUNDS_MS) + 1

REQUEST_COLUMNS: tuple[str, ...] = (
    "request_id",
    "ts",
    "environment",
    "route",
    "tenant",
    "user",
    "prompt_id",
    "prompt_version",
    "model_name",
    "model_digest",
    "provider",
    "params",
    "variables",
    "messages",
    "retrieval",
    "tools",
    "output",
    "finish_reason",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "status",
    "error",
    "safety",
    "refusal",
    "system_fingerprint",
    "flag_variant",
    "trace_id",
    "prompt_hash",
    "output_hash",
)

ROLLUP_DIMS: tuple[str, ...] = ("route", "tenant", "model_name", "prompt_id", "prompt_version")


class SchemaError(Exception):
    """The store cannot be used by this version of llmdeck."""


def _v1(db: Database) -> None:
    db.table("requests").create(
        {
            "request_id": str,
            "ts": int,
            "environment": str,
            "route": str,
            "tenant": str,
            "user": str,
            "prompt_id": str,
            "prompt_version": str,
            "model_name": str,
            "model_digest": str,
            "provider": str,
            "params": str,
            "variables": str,
            "messages": str,
            "retrieval": str,
            "tools": str,
            "output": str,
            "finish_reason": str,
            "tokens_in": int,
            "tokens_out": int,
            "cost_usd": float,
            "latency_ms": float,
            "ttft_ms": float,
            "status": str,
            "error": str,
            "safety": str,
            "refusal": int,
            "system_fingerprint": str,
            "flag_variant": str,
            "trace_id": str,
            "prompt_hash": str,
            "output_hash": str,
        },
        pk="request_id",
        column_order=list(REQUEST_COLUMNS),
    )
    # Composite (dimension, ts) indexes: "newest 50 of route X" reads the
    # index in order instead of sorting in a temporary B-tree (DESIGN.md).
    db.table("requests").create_index(["ts"])
    for dim in ("route", "tenant", "model_name", "prompt_version", "status"):
        db.table("requests").create_index([dim, "ts"])
    db.execute("CREATE VIRTUAL TABLE requests_fts USING fts5(prompt_text, output, content='')")
    buckets = {f"lat_{i}": int for i in range(N_LAT_BUCKETS)}
    for table in ("rollup_minute", "rollup_hour"):
        db.table(table).create(
            {
                "bucket": int,
                **dict.fromkeys(ROLLUP_DIMS, str),
                "n": int,
                "tokens_in": int,
                "tokens_out": int,
                "cost_usd": float,
                "errors": int,
                "timeouts": int,
                "blocks": int,
                "refusals": int,
                "latency_sum": float,
                **buckets,
            },
            pk=("bucket", *ROLLUP_DIMS),
            defaults={"n": 0},
        )
    db.table("replays").create(
        {
            "replay_id": str,
            "request_id": str,
            "batch_id": str,
            "target": str,
            "ts": int,
            "prompt_version": str,
            "request": str,
            "output": str,
            "verdict": str,
            "similarity": float,
            "tokens_in": int,
            "tokens_out": int,
            "cost_usd": float,
            "latency_ms": float,
            "system_fingerprint": str,
            "distinct_outputs": int,
            "error": str,
        },
        pk="replay_id",
    )
    db.table("replays").create_index(["request_id"])
    db.table("replays").create_index(["batch_id"])
    db.table("audit").create(
        {
            "id": int,
            "ts": int,
            "who": str,
            "profile": str,
            "environment": str,
            "action": str,
            "target": str,
            "outcome": str,
            "before": str,
            "after": str,
            "reason": str,
            "detail": str,
        },
        pk="id",
    )
    db.table("audit").create_index(["ts"])
    # Snapshots of alias maps and flag states over time: who pointed where when,
    # even where the backend keeps no history.
    db.table("history").create(
        {"id": int, "ts": int, "kind": str, "source": str, "key": str, "state": str},
        pk="id",
    )
    db.table("history").create_index(["kind", "key", "ts"])
    db.table("ingest_progress").create(
        {"source": str, "offset": int, "size": int, "mtime": float, "updated": int},
        pk="source",
    )


def _v2(db: Database) -> None:
    # The Requests screen sorts by latency, cost and output tokens too: with an
    # index each sort reads its first page in order instead of sorting the
    # whole table (3.4 s at 1M rows without one).
    for col in ("latency_ms", "cost_usd", "tokens_out"):
        db.table("requests").create_index([col], if_not_exists=True)


def _v3(db: Database) -> None:
    # Alerts and incidents live beside the audit log: the postmortem reads
    # alert onsets, actions and notes from one store, whoever ran the console.
    db.table("alerts").create(
        {
            "key": str,  # stable id of the rule and scope: slo:/support/chat:refusal_rate
            "kind": str,  # slo, budget, drift, absent
            "severity": str,  # page, ticket
            "state": str,  # pending, firing, resolved
            "title": str,
            "labels": str,  # JSON: route, prompt, version, tenant, signal
            "onset": int,  # ms: when the condition started to hold
            "ended": int,  # ms: when it stopped (resolved), else null
            "updated": int,
            "detail": str,  # JSON: burn rates per window, observed, objective
            "acked_by": str,
            "acked_at": int,
            "silenced_until": int,
        },
        pk="key",
    )
    db.table("alert_events").create(
        {
            "id": int,
            "ts": int,
            "key": str,
            "event": str,
            "severity": str,
            "title": str,
            "detail": str,
        },
        pk="id",
    )
    db.table("alert_events").create_index(["ts"])
    db.table("incidents").create(
        {
            "id": int,
            "opened": int,
            "closed": int,
            "title": str,
            "severity": str,
            "who": str,
            "profile": str,
        },
        pk="id",
    )
    db.table("incident_notes").create(
        {"id": int, "incident_id": int, "ts": int, "who": str, "text": str},
        pk="id",
    )
    db.table("incident_notes").create_index(["incident_id", "ts"])


MIGRATIONS: tuple[Callable[[Database], None], ...] = (_v1, _v2, _v3)
SCHEMA_VERSION = len(MIGRATIONS)


# How long a statement waits for another process's lock before "database is
# locked": longer than any migration or ingest batch takes.
BUSY_TIMEOUT_S = 30.0


def _version(conn: sqlite3.Connection, path: Path) -> int:
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"{path}: not a workspace store ({exc})") from None
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"{path}: workspace schema version {version} is newer than this llmdeck "
            f"supports ({SCHEMA_VERSION}); upgrade llmdeck"
        )
    return version


def _journal_mode(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


@contextlib.contextmanager
def _migration_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``store.db.lock`` beside the store."""
    import fcntl

    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SchemaError(f"{lock}: cannot lock the store to migrate it: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the store to SCHEMA_VERSION; called under the migration lock, so
    the version is read again: another process may have just done it."""
    conn.execute("PRAGMA journal_mode=WAL")
    version = _version(conn, path)
    if version < SCHEMA_VERSION:
        from sqlite_utils import Database

        db = Database(conn)
        for number in range(version, SCHEMA_VERSION):
            with conn:
                MIGRATIONS[number](db)
                conn.execute(f"PRAGMA user_version = {number + 1}")


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open the store at ``path``, migrating it to the current schema.

    Raises SchemaError when the file is from a newer llmdeck or is not a
    SQLite database, and never changes such a file.
    """
    if not create and not path.exists():
        raise SchemaError(f"{path}: no workspace store here")
    if create:
        # The store holds full prompts and outputs: create it 0600 before
        # SQLite does (it would use 0644), and its -wal and -shm files then
        # take the same mode. An existing store's mode is left as it is; any
        # other error (no such directory) is left for SQLite to report.
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    conn = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    try:
        version = _version(conn, path)
        if version < SCHEMA_VERSION or _journal_mode(conn) != "wal":
            # Several commands may start at once on a new workspace: one of
            # them migrates while the others wait, then find the work done.
            # A lock file, not BEGIN IMMEDIATE: sqlite_utils commits inside
            # its own calls, which would end such a transaction midway.
            with _migration_lock(path):
                _migrate(conn, path)
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn
