"""Live demo traffic follows the flag file, like the gateway it stands in for."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from connectors.flags.flagd import FlagdFile
from connectors.workspace.schema import connect
from console.demo.live import LiveTraffic
from console.demo.traffic import Traffic
from console.demo.world import BAD_VERSION, GOOD_VERSION, INCIDENT_ROUTE, ROUTES
from tests.conftest import FIXED_NOW

FLAG = ROUTES[0].flag


def route_mix(conn: sqlite3.Connection, since_ms: int) -> dict[str, tuple[int, int]]:
    rows = conn.execute(
        "SELECT prompt_version, COUNT(*), SUM(refusal) FROM requests WHERE route = ? AND ts >= ? "
        "GROUP BY 1",
        (INCIDENT_ROUTE, since_ms),
    )
    return {v: (n, r) for v, n, r in rows}


def test_rollback_in_the_flag_file_changes_live_traffic(demo_copy: Path) -> None:
    live = LiveTraffic(demo_copy)
    live._conn = connect(demo_copy / "store.db", create=False)
    traffic = Traffic(FIXED_NOW, seed=99)
    t0 = time.time()
    live.tick(traffic, t0, t0 + 3600 * 3)  # three hours of canary traffic, 50/50
    canary = route_mix(live._conn, int(t0 * 1000))
    assert set(canary) == {GOOD_VERSION, BAD_VERSION}

    flags = FlagdFile(path=demo_copy / "flags.json", environment="development")
    flags.set_weights(
        FLAG,
        "development",
        {f"v{GOOD_VERSION}": 100, f"v{BAD_VERSION}": 0},
        expected=flags.flag(FLAG),
    )
    t1 = t0 + 3600 * 3
    live.tick(traffic, t1, t1 + 3600 * 3)
    after = route_mix(live._conn, int(t1 * 1000))
    assert set(after) == {GOOD_VERSION}  # the very next requests follow the flag
    rate_before = sum(r for _, r in canary.values()) / sum(n for n, _ in canary.values())
    rate_after = after[GOOD_VERSION][1] / after[GOOD_VERSION][0]
    assert rate_after < 0.6 * rate_before  # the refusal rate recovers


def test_kill_switch_blocks_the_route(demo_copy: Path) -> None:
    live = LiveTraffic(demo_copy)
    live._conn = connect(demo_copy / "store.db", create=False)
    flags = FlagdFile(path=demo_copy / "flags.json", environment="development")
    flags.set_enabled(
        "kill-support-chat", "development", True, expected=flags.flag("kill-support-chat")
    )
    t0 = time.time() + 86400
    live.tick(Traffic(FIXED_NOW, seed=5), t0, t0 + 1800)
    statuses = {
        s
        for (s,) in live._conn.execute(
            "SELECT DISTINCT status FROM requests WHERE route = ? AND ts >= ?",
            (INCIDENT_ROUTE, int(t0 * 1000)),
        )
    }
    assert statuses == {"blocked"}
    # The kill switch answers before the safety policy: no decision, so Drift does
    # not count these as safety blocks (issue 17 defect 7).
    decided = live._conn.execute(
        "SELECT COUNT(*) FROM requests WHERE route = ? AND ts >= ? AND safety IS NOT NULL",
        (INCIDENT_ROUTE, int(t0 * 1000)),
    ).fetchone()[0]
    assert decided == 0


def test_broken_flag_file_keeps_the_last_routing(demo_copy: Path) -> None:
    live = LiveTraffic(demo_copy)
    good = live.routing()
    assert good.weights[INCIDENT_ROUTE] == {GOOD_VERSION: 50.0, BAD_VERSION: 50.0}
    (demo_copy / "flags.json").write_text("{ not json")
    assert live.routing() is good
