"""Registry view over the demo workspace: lineage (and its hour cache), traffic, alias history."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.records import RequestRecord
from connectors.workspace.schema import connect
from connectors.workspace.store import insert_records, snapshot_history, ts_ms
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.diff.view import load_diff, split_ref, traffic
from console.registry.lineage import LineageCache
from console.registry.view import alias_history, load_listing
from tests.conftest import FIXED_NOW, demo_profile

VERSIONS = ["11", "12", "13", "14"]


def plain(conn: sqlite3.Connection, start: Any, end: Any) -> dict[tuple[str, ...], int]:
    rows = conn.execute(
        "SELECT prompt_version, model_name, model_digest, "
        "COALESCE(json_extract(retrieval, '$.index_snapshot'), ''), "
        "COALESCE(json_extract(safety, '$.policy_version'), ''), COUNT(*) FROM requests "
        "WHERE prompt_id = 'support-answer' AND ts >= ? AND ts < ? GROUP BY 1, 2, 3, 4, 5",
        (ts_ms(start), ts_ms(end)),
    )
    return {tuple(r[:5]): r[5] for r in rows}


def as_map(rows: list[Any]) -> dict[tuple[str, ...], int]:
    return {
        (r.prompt_version, r.model_name, r.model_digest, r.index_snapshot, r.policy_version): (
            r.requests
        )
        for r in rows
    }


def test_lineage_matches_a_plain_group_by_and_the_cache_notices_late_rows(
    demo_copy: Path,
) -> None:
    conn = connect(demo_copy / "store.db")
    # ranges with partial hours at both ends
    start, end = FIXED_NOW - timedelta(hours=30, minutes=17), FIXED_NOW - timedelta(minutes=5)
    cache = LineageCache()
    first = cache.lineage(conn, "support-answer", VERSIONS, start, end)
    assert as_map(first) == plain(conn, start, end)
    assert {r.prompt_version for r in first} == {"13", "14"}
    assert first == sorted(first, key=lambda r: -r.requests)
    read_once = cache.reads
    assert read_once >= 29
    assert cache.lineage(conn, "support-answer", VERSIONS, start, end) == first
    assert cache.reads == read_once  # every whole hour came from the cache
    # A late row lands in an old hour with a new model digest: only that hour is read again.
    late = RequestRecord(
        request_id="late-1", ts=FIXED_NOW - timedelta(hours=20, minutes=30),
        prompt_id="support-answer", prompt_version="13", model_name="gpt-4o-mini",
        model_digest="sha256:new", retrieval={"index_snapshot": "kb-x"},
        safety={"policy_version": "gw-policy-8"},
    )  # fmt: skip
    assert insert_records(conn, [late]) == 1
    again = cache.lineage(conn, "support-answer", VERSIONS, start, end)
    assert cache.reads == read_once + 1
    assert as_map(again) == plain(conn, start, end)
    assert as_map(again)[("13", "gpt-4o-mini", "sha256:new", "kb-x", "gw-policy-8")] == 1


def test_traffic_per_version_from_rollups(demo_dir: Path) -> None:
    conn = connect(demo_dir / "store.db", create=False)
    start, end = FIXED_NOW - timedelta(hours=2), FIXED_NOW
    t = traffic(conn, "support-answer", start, end)
    n13, n14, refusals14 = conn.execute(
        "SELECT SUM(prompt_version = '13'), SUM(prompt_version = '14'), "
        "SUM(prompt_version = '14' AND refusal) FROM requests "
        "WHERE prompt_id = 'support-answer' AND ts >= ? AND ts < ?",
        (ts_ms(start), ts_ms(end)),
    ).fetchone()
    assert (t["13"].requests, t["14"].requests) == (n13, n14)
    assert t["14"].refusal_rate is not None
    assert abs(t["14"].refusal_rate - refusals14 / n14) < 1e-9
    assert t["14"].refusal_rate > 2 * (t["13"].refusal_rate or 0)  # the incident
    p95 = t["14"].latency_p95_ms
    assert p95 is not None and p95 > 0


def test_alias_history_lists_moves_and_skips_bad_rows(tmp_path: Path) -> None:
    conn = connect(tmp_path / "store.db")
    at = FIXED_NOW - timedelta(days=1)
    snapshot_history(conn, "alias", "files", "p", {"production": "1"}, at=at)
    snapshot_history(conn, "alias", "files", "p", {"production": "2", "canary": "3"},
                     at=at + timedelta(hours=1))  # fmt: skip
    with conn:
        conn.execute(
            "INSERT INTO history (ts, kind, source, key, state) VALUES (?, 'alias', 'x', 'p', ?)",
            (ts_ms(at + timedelta(hours=2)), "not json"),
        )
    snapshot_history(conn, "alias", "files", "p", {"production": "2"},
                     at=at + timedelta(hours=3))  # fmt: skip
    moves = [(m.alias, m.before, m.after) for m in alias_history(conn, "p")]
    assert moves == [
        ("production", None, "1"),
        ("canary", None, "3"),
        ("production", "1", "2"),
        ("canary", "3", None),
    ]


def test_listing_snapshots_aliases_once(demo_copy: Path, frozen_clock: Any) -> None:
    session = Session(demo_profile(demo_copy))
    first = load_listing(session)
    assert [e.name for e in first.prompts] == ["sql-assistant", "support-answer", "ticket-summary"]
    assert first.snapshots == 3  # the three models had no snapshot yet
    assert load_listing(session).snapshots == 0
    view = load_diff(session, "support-answer", "canary", None, FIXED_NOW - timedelta(hours=1),
                     FIXED_NOW)  # fmt: skip
    assert (view.diff.a.version, view.diff.b.version) == ("13", "14")
    session.close()


def test_first_registry_visit_is_a_baseline_not_a_change(
    demo_copy: Path, frozen_clock: Any
) -> None:
    """Issue 17 defect 3: the first listing snapshots the models' aliases (they had
    none in the store); that baseline must not show as a marker, a ``metrics``
    change or an Audit row. A later real move still does."""
    from console.audit import trail as audit_log
    from console.changelog import markers as changes
    from console.core.spans import RANGES
    from console.overview.panels import report

    session = Session(demo_profile(demo_copy))
    assert load_listing(session).snapshots == 3  # the three models, first seen now
    hour = (FIXED_NOW - timedelta(hours=1), FIXED_NOW + timedelta(minutes=1))
    models = {e.name for e in load_listing(session).models}
    found = changes.load(session, *hour).events
    assert not [e for e in found if e.target in models], found
    rows, _ = audit_log.load(session, hour[0])
    assert not [r for r in rows if r.target in models], rows
    data = report(session, RANGES["1h"], "none")
    assert not [c for c in data["changes"] if any(m in c["what"] for m in models)]
    # the baseline is kept: the next change of that map is a move with a before
    name = sorted(models)[0]
    snapshot_history(session.store(), "alias", "files", name, {"production": "2"},
                     at=FIXED_NOW + timedelta(seconds=30))  # fmt: skip
    moved = [r for r in audit_log.load(session, hour[0])[0] if r.target == name]
    assert len(moved) == 1 and moved[0].before is not None
    assert [e for e in changes.load(session, *hour).events if e.target == name]
    session.close()


def test_split_ref() -> None:
    assert split_ref("support-answer@v14") == ("support-answer", "14")
    assert split_ref("a@b@canary") == ("a@b", "canary")
    assert split_ref("p@vnext") == ("p", "vnext")
    for bad in ("p", "@1", "p@"):
        with pytest.raises(LlmdeckError, match="expected NAME@VERSION"):
            split_ref(bad)
