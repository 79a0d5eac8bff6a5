"""The incident record, its timeline and its impact, on a small workspace with
known traffic (tests/incident_world.py says what is in it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.support.redact import remember
from console.core.readonly import ReadOnlyRefused
from console.core.session import Session
from console.incident import impact, record, timeline
from console.incident.impact import Scoped
from console.incident.record import Incident, IncidentError
from tests import incident_world as world
from tests.incident_world import at


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, Incident]]:
    """The world with its incident recorded; tests only read it."""
    path = tmp_path_factory.mktemp("incident") / "ws"
    world.build(path)
    session = world.session(path)
    incident = world.open_known_incident(session)
    yield session, incident
    session.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Session]:
    world.build(tmp_path / "ws")
    session = world.session(tmp_path / "ws")
    yield session
    session.close()


# -- record -------------------------------------------------------------------


def test_open_note_close_and_their_audit_entries(fresh: Session) -> None:
    inc = record.open_incident(fresh, "  Refusals   up ", "SEV2", at=at(11, 5))
    assert (inc.title, inc.severity, inc.status, inc.who) == (
        "Refusals up",
        "sev2",
        "open",
        "alice",
    )
    assert record.current(fresh.store()) == inc
    note = record.add_note(fresh, inc.id, "looking at v14", at=at(11, 6))
    closed = record.close(fresh, inc.id, at=at(11, 50))
    assert closed.status == "closed" and closed.closed == at(11, 50)
    assert record.current(fresh.store()) is None
    assert [n.text for n in record.notes(fresh.store(), inc.id)] == ["looking at v14"]
    sql = "SELECT action, target, who, outcome FROM audit WHERE action LIKE 'incident.%'"
    rows = fresh.store().execute(sql + " ORDER BY id").fetchall()
    label = f"INC-{inc.id}"
    assert rows == [
        ("incident.open", label, "alice", "done"),
        ("incident.note", label, "alice", "done"),
        ("incident.close", label, "alice", "done"),
    ]
    assert note.incident_id == inc.id


def test_bad_input_is_refused_and_nothing_is_written(fresh: Session) -> None:
    conn = fresh.store()
    for title, severity, words in (
        ("", "sev1", "needs a title"),
        ("x", "sev9", "unknown severity 'sev9' (choose sev1, sev2, sev3, sev4)"),
        ("x" * 201, "sev1", "title too long"),
    ):
        with pytest.raises(IncidentError, match=words.replace("(", r"\(").replace(")", r"\)")):
            record.open_incident(fresh, title, severity)
    assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0
    inc = record.open_incident(fresh, "t", "sev3")
    with pytest.raises(IncidentError, match="needs some text"):
        record.add_note(fresh, inc.id, "   ")
    with pytest.raises(IncidentError, match="no incident INC-99"):
        record.add_note(fresh, 99, "x")
    record.close(fresh, inc.id)
    with pytest.raises(IncidentError, match="already closed"):
        record.close(fresh, inc.id)
    with pytest.raises(IncidentError, match="is closed"):
        record.add_note(fresh, inc.id, "late")
    assert conn.execute("SELECT COUNT(*) FROM incident_notes").fetchone()[0] == 0
    assert record.parse_id("INC-12") == record.parse_id("12") == record.parse_id("inc12") == 12
    with pytest.raises(IncidentError, match="not an incident id"):
        record.parse_id("twelve")


def test_a_failed_audit_append_leaves_no_incident(fresh: Session) -> None:
    """The incident row and its audit row are one transaction."""
    conn = fresh.store()
    with conn:
        conn.execute(
            "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'full'); END"
        )
    with pytest.raises(sqlite3.IntegrityError):
        record.open_incident(fresh, "t", "sev1")
    assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0


def test_read_only_flag_refuses_and_creates_no_store(tmp_path: Path) -> None:
    world.build(tmp_path / "ws")
    (tmp_path / "ws" / "store.db").unlink()
    for name in ("store.db-wal", "store.db-shm"):
        (tmp_path / "ws" / name).unlink(missing_ok=True)
    session = Session(world.session(tmp_path / "ws").profile, read_only=True)
    with pytest.raises(ReadOnlyRefused, match="refused under --read-only: incident"):
        record.open_incident(session, "t", "sev1")
    assert not (tmp_path / "ws" / "store.db").exists()


def test_a_secret_in_a_note_is_not_stored(fresh: Session) -> None:
    remember("s3cr3t-token-value")
    inc = record.open_incident(fresh, "t", "sev1")
    record.add_note(
        fresh, inc.id, "curl -H 'Authorization: Bearer abcdef123456' uses s3cr3t-token-value"
    )
    (text,) = fresh.store().execute("SELECT text FROM incident_notes").fetchone()
    assert "s3cr3t-token-value" not in text and "abcdef123456" not in text


# -- timeline -----------------------------------------------------------------


def test_timeline_has_every_source_in_order(known: tuple[Session, Incident]) -> None:
    session, inc = known
    tl = timeline.build(session, inc)
    assert (tl.start, tl.end) == (at(10, 5), at(11, 50))
    got = [(e.ts, e.kind, e.title) for e in tl.entries]
    assert got == [
        (at(10, 58), "change", "flag support-chat-prompt v13 50%/v14 50%"),
        (at(10, 58), "action", "set_weights support-chat-prompt: done (canary v14)"),
        (at(11, 1), "alert", "pending: refusal rate on /support/chat (page)"),
        (at(11, 3), "alert", "firing: refusal rate on /support/chat (page)"),
        (at(11, 5), "incident", f"{inc.label} opened (sev2)"),
        (at(11, 10), "note", "refusals up on v14 | canary suspected"),
        (at(11, 20), "replay", "replay batch b1: 3 replays (different 2, identical 1)"),
        (at(11, 25), "replay", "replay of chat-1110-1: similar"),
        (at(11, 30), "action", "set_enabled kill-support-chat: cancelled"),
        (at(11, 40), "change", "flag support-chat-prompt v13 100%/v14 0%"),
        (at(11, 40), "action", "rollback_route /support/chat: done (refusals 4x on v14)"),
        (at(11, 42), "note", "rolled back; watching"),
        (at(11, 45), "alert", "resolved: refusal rate on /support/chat (page)"),
        (at(11, 50), "incident", f"{inc.label} closed"),
    ]
    assert not tl.problems
    # The incident's own audit entries are its opened/note/closed lines, not actions.
    assert all(not e.title.startswith("incident.") for e in tl.entries)
    assert {e.who for e in tl.of_kind("note")} == {"alice"}
    assert tl.of_kind("alert")[0].ref == world.ALERT_KEY


def test_lead_in_is_configurable(known: tuple[Session, Incident]) -> None:
    session, inc = known
    short = timeline.build(session, inc, lead_in=timedelta(minutes=5))
    assert short.start == at(11, 0)
    assert [e.kind for e in short.entries][:3] == ["alert", "alert", "incident"]
    long = timeline.build(session, inc, lead_in=timedelta(hours=3))
    assert long.start == at(8, 5)
    assert len(long.entries) == len(timeline.build(session, inc).entries)


def test_an_open_incident_runs_to_now(fresh: Session) -> None:
    inc = record.open_incident(fresh, "t", "sev1", at=at(11, 5))
    tl = timeline.build(fresh, inc, now=at(11, 41))
    assert tl.end == at(11, 41)
    assert tl.entries[-1].title.startswith("rollback_route")  # 11:42's note is not written


def test_a_source_that_fails_is_named_and_the_rest_still_show(fresh: Session) -> None:
    inc = record.open_incident(fresh, "t", "sev1", at=at(11, 5))
    with fresh.store() as conn:
        conn.execute("DROP TABLE replays")
    tl = timeline.build(fresh, inc)
    assert any(p.startswith("replays:") for p in tl.problems), tl.problems
    assert tl.of_kind("alert") and not tl.of_kind("replay")


# -- impact -------------------------------------------------------------------


def test_impact_of_the_known_incident(known: tuple[Session, Incident]) -> None:
    session, _ = known
    conn = session.store()
    routes = impact.alert_routes(conn, at(10, 5), at(11, 50))
    assert routes == ("/support/chat",)
    f = impact.measure(conn, at(11, 1), at(11, 50), {"route": routes}, world.TENANTS)
    # 49 minutes x 10 requests; 39 minutes at 4 refusals (11:01-11:40), 10 at 1.
    assert (f.requests, f.refusals, f.errors, f.blocks) == (490, 39 * 4 + 10, 0, 0)
    assert f.cost_usd == pytest.approx(0.49)
    assert f.tenants == ("acme",) and f.tenants_seen == 2
    everything = impact.measure(conn, at(11, 1), at(11, 50), {}, world.TENANTS)
    assert everything.requests == 490 + 49 * 5
    assert everything.errors == 10  # /search: one a minute, 11:10-11:20
    assert everything.tenants == ("acme", "initech")


def test_a_window_is_widened_to_whole_minutes(known: tuple[Session, Incident]) -> None:
    conn = known[0].store()
    f = impact.measure(conn, at(11, 1, 30), at(11, 2, 10), {"route": ("/support/chat",)})
    assert (f.start, f.end, f.requests) == (at(11, 1), at(11, 3), 20)


def test_impact_reads_the_rollups_not_the_requests(fresh: Session) -> None:
    conn = fresh.store()
    with conn:
        conn.execute("DELETE FROM requests")  # the rollups stay; so must the figures
    assert impact.measure(conn, at(11, 1), at(11, 50)).requests == 490 + 49 * 5


def test_per_minute_series_and_the_effect_of_a_write(known: tuple[Session, Incident]) -> None:
    conn = known[0].store()
    points = impact.series(conn, at(10, 55), at(11, 5), {"route": ("/support/chat",)})
    assert len(points) == 10 and points[0].ts == at(10, 55)
    assert [round(p.refusal_rate, 2) for p in points] == [0.1] * 5 + [0.4] * 5
    scoped = impact.scope_of_target("/support/chat", None, {})
    fx = impact.effect(conn, at(11, 40, 12), scoped, now=at(12, 0))
    assert (fx.before.start, fx.before.end) == (at(11, 25), at(11, 40))
    assert (fx.after.start, fx.after.end) == (at(11, 41), at(11, 56))
    assert (fx.before.refusal_rate, fx.after.refusal_rate) == (0.4, 0.1)
    assert not fx.partial
    soon = impact.effect(conn, at(11, 40), scoped, now=at(11, 47, 30))
    assert soon.partial and soon.after.end == at(11, 47) and soon.after.requests == 60


def test_what_a_write_touched() -> None:
    flags = {"support-chat-prompt": Scoped({"route": ("/support/chat",)}, "route /support/chat")}
    assert impact.scope_of_target("/x", None, flags).where == {"route": ("/x",)}
    assert impact.scope_of_target("support-chat-prompt", None, flags).label == "route /support/chat"
    # A composite plan is audited with the step targets as keys of ``after``.
    composite = impact.scope_of_target("rollback", {"support-chat-prompt": {}}, flags)
    assert composite.where == {"route": ("/support/chat",)}
    assert impact.scope_of_target("support-answer:production", None, {}).where == {
        "prompt_id": ("support-answer",)
    }
    assert impact.scope_of_target("kill-all", None, {}).where == {}
    with pytest.raises(ValueError, match="not a rollup dimension"):
        impact.measure(sqlite3.connect(":memory:"), at(1, 0), at(2, 0), {"status": ("ok",)})


def test_step_grows_with_the_window() -> None:
    assert impact.step_for(at(10, 0), at(12, 0)) == 60
    assert impact.step_for(at(0, 0), at(10, 0)) == 300  # 600 minutes, 120 points
    assert impact.step_for(at(0, 0), at(0, 0) + timedelta(days=7)) == 7200


def test_alerts_recorded_by_the_engine_and_acked_show_in_the_timeline(fresh: Session) -> None:
    """The events as console/alerts/lifecycle.py and alert_marks write them."""
    from connectors.workspace import alert_marks
    from console.alerts import lifecycle
    from console.alerts.model import Alert

    conn = fresh.store()
    alert = Alert(
        key="slo:/search:error_rate", kind="slo", severity="ticket", state="resolved",
        title="error rate on /search", labels={"route": "/search", "signal": "error_rate"},
        onset=at(11, 10), ended=at(11, 20), burn={"1h": 20.0, "5m": 40.0},
        observed=0.2, objective=0.01,
    )  # fmt: skip
    lifecycle.record(conn, [alert], now=at(11, 30), pending_for=timedelta(minutes=2))
    alert_marks.mark(conn, alert.key, who="bob", now=at(11, 15))
    with conn:  # only the engine's alert: the world's own rows would also match
        conn.execute("DELETE FROM alert_events WHERE key != ?", (alert.key,))
    inc = record.open_incident(fresh, "errors on search", "sev3", at=at(11, 12))
    entries = timeline.build(fresh, inc, now=at(11, 40)).of_kind("alert")
    assert [(e.ts, e.title.split(":")[0], e.who) for e in entries] == [
        (at(11, 10), "pending", ""),
        (at(11, 12), "firing", ""),
        (at(11, 15), "acked", "bob"),
        (at(11, 20), "resolved", ""),
    ]
    assert entries[1].body == "burn 1h 20, 5m 40 · observed 0.2, objective 0.01"
    with conn:  # the route still comes from the event when the alert row is gone
        conn.execute("DELETE FROM alerts")
    assert impact.alert_routes(conn, at(11, 0), at(11, 40)) == ("/search",)


def test_the_incident_record_is_no_change_marker(known: tuple[Session, Incident]) -> None:
    """Opening, noting and closing are audited, but they are not changes to the
    system: no marker on the charts, no candidate for an alert's suspects."""
    from console.changelog import markers

    session, _ = known
    audited = (
        session.store()
        .execute("SELECT COUNT(*) FROM audit WHERE action LIKE 'incident.%'")
        .fetchone()[0]
    )
    assert audited == 4  # open, two notes, close
    found = markers.from_audit(session.store(), at(10, 0), at(12, 0))
    assert [(m.what.split(" ")[0], m.who) for m in found] == [
        ("set_weights", "deploy-bot"),
        ("rollback_route", "alice"),
    ]
