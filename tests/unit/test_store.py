"""The workspace store: migrations, idempotent inserts, rollups and indexes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.records import RequestRecord
from connectors.workspace.schema import SCHEMA_VERSION, SchemaError, connect
from connectors.workspace.store import insert_records, snapshot_history
from console.core.errors import WorkspaceError
from console.core.session import open_store

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def rec(i: int, **kw: object) -> RequestRecord:
    base: dict[str, object] = dict(
        request_id=f"r{i}",
        ts=T0 + timedelta(seconds=i),
        route="/a",
        tenant="t1",
        model_name="m",
        prompt_id="p",
        prompt_version="1",
        tokens_in=100,
        tokens_out=10,
        cost_usd=0.01,
        latency_ms=120.0,
        messages=({"role": "user", "content": f"question number {i}"},),
        output=f"answer {i}",
    )
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


def test_new_store_is_at_current_version(tmp_path: Path) -> None:
    conn = connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "requests",
        "requests_fts",
        "rollup_minute",
        "rollup_hour",
        "replays",
        "audit",
        "history",
        "ingest_progress",
    } <= tables
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "idx_requests_route_ts" in indexes and "idx_requests_prompt_version_ts" in indexes


def test_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    raw.execute("CREATE TABLE keepme (x)")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(SchemaError, match="newer than this llmdeck supports"):
        connect(path)
    with pytest.raises(WorkspaceError, match="upgrade llmdeck"):
        open_store(tmp_path)
    assert path.read_bytes() == before


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "store.db").write_text("this is not sqlite, " * 100)
    with pytest.raises(WorkspaceError, match="not a workspace store"):
        open_store(tmp_path)


def test_inserts_are_idempotent_and_maintain_rollups_and_fts(tmp_path: Path) -> None:
    conn = connect(tmp_path / "s.db")
    records = [rec(i, refusal=(i % 4 == 0), status="error" if i == 3 else "ok") for i in range(20)]
    assert insert_records(conn, records) == 20
    assert insert_records(conn, records) == 0  # same ids: nothing added, rollups unchanged
    assert insert_records(conn, [*records[:5], rec(99)]) == 1
    n, refusals, errors, tokens = conn.execute(
        "SELECT SUM(n), SUM(refusals), SUM(errors), SUM(tokens_in) FROM rollup_minute"
    ).fetchone()
    assert (n, refusals, errors, tokens) == (21, 5, 1, 2100)
    assert conn.execute("SELECT SUM(n) FROM rollup_hour").fetchone()[0] == 21
    hits = conn.execute(
        "SELECT rowid FROM requests_fts WHERE requests_fts MATCH 'number'"
    ).fetchall()
    assert len(hits) == 21


def test_route_page_uses_composite_index(tmp_path: Path) -> None:
    conn = connect(tmp_path / "s.db")
    plan = " ".join(
        str(r[-1])
        for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM requests WHERE route = ? ORDER BY ts DESC LIMIT 50",
            ("/a",),
        )
    )
    assert "idx_requests_route_ts" in plan and "TEMP B-TREE" not in plan


def test_history_snapshots_only_changes(tmp_path: Path) -> None:
    conn = connect(tmp_path / "s.db")
    assert snapshot_history(conn, "alias", "files", "p", {"production": "1"})
    assert not snapshot_history(conn, "alias", "files", "p", {"production": "1"})
    assert snapshot_history(conn, "alias", "files", "p", {"production": "2"})
    assert conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == 2
