"""The demo workspace really contains the incident the design describes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from connectors.flags.flagd import FlagdFile
from connectors.registry.files import FilesRegistry
from console.demo.workspace import create
from console.demo.world import BAD_VERSION, GOOD_VERSION, INCIDENT_ROUTE, ROUTES, TENANTS, hashed
from tests.conftest import FIXED_NOW

NOW_MS = int(FIXED_NOW.timestamp() * 1000)
HOUR = 3_600_000


def q(conn: sqlite3.Connection, sql: str, *args: object) -> tuple:  # type: ignore[type-arg]
    return conn.execute(sql, args).fetchone()  # type: ignore[no-any-return]


def test_size_and_variety(demo_dir: Path) -> None:
    conn = sqlite3.connect(demo_dir / "store.db")
    n, lo, hi = q(conn, "SELECT COUNT(*), MIN(ts), MAX(ts) FROM requests")
    assert n >= 200_000
    assert (hi - lo) > 6.9 * 24 * HOUR and hi <= NOW_MS
    assert q(conn, "SELECT COUNT(DISTINCT route) FROM requests")[0] >= 3
    assert q(conn, "SELECT COUNT(DISTINCT tenant) FROM requests")[0] >= 4
    assert q(conn, "SELECT COUNT(DISTINCT model_name) FROM requests")[0] >= 2
    assert q(conn, "SELECT COUNT(DISTINCT prompt_id) FROM requests")[0] >= 3
    per_prompt = conn.execute(
        "SELECT prompt_id, COUNT(DISTINCT prompt_version) FROM requests GROUP BY 1"
    ).fetchall()
    assert all(v >= 2 for _, v in per_prompt)
    statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM requests")}
    assert statuses == {"ok", "error", "blocked", "timeout"}
    # Raw tenant names never reach the store.
    assert q(conn, "SELECT COUNT(*) FROM requests WHERE tenant IN ('acme', 'globex')")[0] == 0
    # One tenant logs hashes only: those requests cannot be replayed.
    hooli = hashed("tenant", "hooli")
    assert (
        q(conn, "SELECT COUNT(*) FROM requests WHERE tenant = ? AND messages != '[]'", hooli)[0]
        == 0
    )


def test_incident_refusal_ratio_and_shorter_outputs(demo_dir: Path) -> None:
    conn = sqlite3.connect(demo_dir / "store.db")
    rows = {
        version: (n, refusals, mean_out, mean_len)
        for version, n, refusals, mean_out, mean_len in conn.execute(
            "SELECT prompt_version, COUNT(*), SUM(refusal), "
            "AVG(CASE WHEN refusal = 0 THEN tokens_out END), "
            "AVG(CASE WHEN refusal = 0 THEN length(output) END) FROM requests "
            "WHERE route = ? AND ts >= ? AND status = 'ok' GROUP BY 1",
            (INCIDENT_ROUTE, NOW_MS - 3 * HOUR),
        )
    }
    assert set(rows) == {GOOD_VERSION, BAD_VERSION}  # the canary splits the route
    good, bad = rows[GOOD_VERSION], rows[BAD_VERSION]
    ratio = (bad[1] / bad[0]) / (good[1] / good[0])
    assert 30 <= ratio <= 80, ratio  # v14 refuses about 30%, v13 about 0.6%
    assert 0.5 <= bad[2] / good[2] <= 0.7  # output tokens about 40% shorter
    assert bad[3] < 0.8 * good[3]  # and the text is too
    # Before the canary, v14 never served.
    assert (
        q(
            conn,
            "SELECT COUNT(*) FROM requests WHERE prompt_version = ? AND route = ? AND ts < ?",
            BAD_VERSION,
            INCIDENT_ROUTE,
            NOW_MS - 3 * HOUR - 60_000,
        )[0]
        == 0
    )


def test_tenant_spend_spike(demo_dir: Path) -> None:
    conn = sqlite3.connect(demo_dir / "store.db")
    acme = hashed("tenant", "acme")

    def spend(lo: int, hi: int) -> float:
        return q(
            conn,
            "SELECT SUM(cost_usd) FROM requests WHERE tenant = ? AND ts >= ? AND ts < ?",
            acme,
            lo,
            hi,
        )[0] / ((hi - lo) / HOUR)

    recent = spend(NOW_MS - 4 * HOUR, NOW_MS)
    same_hours_yesterday = spend(NOW_MS - 28 * HOUR, NOW_MS - 24 * HOUR)
    assert recent > 3 * same_hours_yesterday


def test_files_agree_with_the_data(demo_dir: Path) -> None:
    flags = FlagdFile(path=demo_dir / "flags.json", environment="development")
    rollout = flags.flag(ROUTES[0].flag)
    weights = {v.name: v.weight for v in rollout.environments[0].variants}
    assert weights == {f"v{GOOD_VERSION}": 50.0, f"v{BAD_VERSION}": 50.0}
    assert {f.key for f in flags.flags() if f.is_kill_switch} == {
        "kill-support-chat",
        "kill-claude-3-5-haiku",
    }
    registry = FilesRegistry(path=demo_dir / "prompts")
    assert registry.get("support-answer", "canary").version == BAD_VERSION
    assert registry.get("support-answer", "production").version == GOOD_VERSION
    assert len(registry.names("model")) == 3 and len(TENANTS) >= 4
    doc = json.loads((demo_dir / "flags.json").read_text())
    assert doc["$schema"].startswith("https://flagd.dev/schema")


def test_second_run_reuses_the_workspace(demo_copy: Path) -> None:
    before = (demo_copy / "store.db").stat().st_mtime_ns
    result = create(demo_copy, now=FIXED_NOW)
    assert not result.created
    assert (demo_copy / "store.db").stat().st_mtime_ns == before
