"""A small workspace with one known incident, for the incident tests.

Two hours of traffic, 10:00-12:00 UTC on 2026-11-29 (FIXED_NOW is 12:00):

- ``/support/chat``: 10 requests a minute at :00, :05, ... :45 s; even ones
  from tenant acme, odd ones from globex; one refusal a minute (acme's first),
  four a minute (all acme) from 11:00 to 11:40, when the route is rolled back.
  $0.001 each.
- ``/search``: 5 requests a minute from tenant initech, one error a minute
  from 11:10 to 11:20. $0.002 each.

Around it: an alert on /support/chat's refusal rate (pending 11:01, firing
11:03, resolved 11:45), the canary flag write at 10:58 (audit and history),
a cancelled kill switch at 11:30, the rollback at 11:40 (audit and its
history snapshot, as the write pipeline leaves them), a batch of three
replays at 11:20 and one replay at 11:25. The incident itself is opened by
the tests (``open_known_incident``): 11:05, notes at 11:10 and 11:42, closed
at 11:50.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.records import RequestRecord
from connectors.workspace.store import append_audit, insert_records, snapshot_history, ts_ms
from console.core.config import load_config
from console.core.session import Session
from console.incident import record
from console.incident.record import Incident

DAY = datetime(2026, 11, 29, tzinfo=UTC)
START = DAY.replace(hour=10)
END = DAY.replace(hour=12)
TENANTS = {"t-acme00000001": "acme", "t-globex000002": "globex", "t-initech00003": "initech"}
ACME, GLOBEX, INITECH = TENANTS
ALERT_KEY = "slo:/support/chat:refusal_rate"


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second)


def records() -> list[RequestRecord]:
    out = []
    minute = START
    while minute < END:
        hot = at(11, 0) <= minute < at(11, 40)
        for i in range(10):
            refused = i in (0, 2, 4, 6) if hot else i == 0
            out.append(
                RequestRecord(
                    request_id=f"chat-{minute:%H%M}-{i}",
                    ts=minute + timedelta(seconds=5 * i),
                    route="/support/chat",
                    tenant=ACME if i % 2 == 0 else GLOBEX,
                    prompt_id="support-answer",
                    prompt_version="14" if hot else "13",
                    model_name="m1",
                    cost_usd=0.001,
                    latency_ms=400.0,
                    refusal=refused,
                )
            )
        failing = at(11, 10) <= minute < at(11, 20)
        for i in range(5):
            out.append(
                RequestRecord(
                    request_id=f"search-{minute:%H%M}-{i}",
                    ts=minute + timedelta(seconds=10 * i + 2),
                    route="/search",
                    tenant=INITECH,
                    prompt_id="search-rewrite",
                    prompt_version="3",
                    model_name="m1",
                    cost_usd=0.002,
                    latency_ms=200.0,
                    status="error" if failing and i == 0 else "ok",
                )
            )
        minute += timedelta(minutes=1)
    return out


FLAGS = {
    "flags": {
        "support-chat-prompt": {
            "state": "ENABLED",
            "variants": {"v13": "13", "v14": "14"},
            "defaultVariant": "v13",
            "metadata": {"route": "/support/chat", "prompt": "support-answer"},
        },
        "kill-support-chat": {
            "state": "DISABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on",
            "metadata": {"type": "kill-switch", "route": "/support/chat"},
        },
    }
}


def profile_yaml() -> str:
    tenants = "\n".join(f"      {k}: {v}" for k, v in TENANTS.items())
    return (
        "default_profile: t\n"
        "profiles:\n"
        "  t:\n"
        "    environment: staging\n"
        "    workspace: .\n"
        "    user: alice\n"
        "    metrics: {kind: workspace}\n"
        "    request_log: {kind: workspace}\n"
        "    flags: {kind: flagd, path: flags.json}\n"
        "    tenants:\n"
        f"{tenants}\n"
    )


def _audit(conn: sqlite3.Connection, ts: datetime, who: str, action: str, target: str,
           outcome: str, before: object, after: object, reason: str) -> None:  # fmt: skip
    append_audit(conn, {
        "ts": ts_ms(ts), "who": who, "profile": "t", "environment": "staging",
        "action": action, "target": target, "outcome": outcome, "before": before,
        "after": after, "reason": reason, "detail": f"{action} {target}: {outcome}",
    })  # fmt: skip


def _replay(conn: sqlite3.Connection, replay_id: str, batch: str, ts: datetime,
            verdict: str) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO replays (replay_id, request_id, batch_id, target, ts, prompt_version, "
        "request, output, verdict, similarity, tokens_in, tokens_out, cost_usd, latency_ms, "
        "system_fingerprint, distinct_outputs, error) "
        "VALUES (?, ?, ?, 'local', ?, '13', '{}', 'ok', ?, 0.5, 1, 1, 0.0001, 10, '', 1, NULL)",
        (replay_id, f"chat-1110-{replay_id[-1]}", batch, ts_ms(ts), verdict),
    )


def build(path: Path) -> Path:
    """Write the workspace (profile, flag file, store) into ``path``; returns
    the profile file."""
    from console.core.session import open_store

    path.mkdir(parents=True, exist_ok=True)
    (path / "flags.json").write_text(json.dumps(FLAGS))
    (path / "llmdeck.yaml").write_text(profile_yaml())
    conn = open_store(path)
    try:
        insert_records(conn, records())
        flag = "support-chat-prompt"
        good = {"enabled": True, "weights": {"v13": 100.0, "v14": 0.0}}
        canary = {"enabled": True, "weights": {"v13": 50.0, "v14": 50.0}}
        snapshot_history(conn, "flag", "flagd", flag, good, at=at(9, 0))
        snapshot_history(conn, "flag", "flagd", flag, canary, at=at(10, 58))
        _audit(conn, at(10, 58), "deploy-bot", "set_weights", flag, "done",
               {flag: good}, {flag: canary}, "canary v14")  # fmt: skip
        _audit(conn, at(11, 30), "alice", "set_enabled", "kill-support-chat", "cancelled",
               None, None, "")  # fmt: skip
        # What the pipeline does after a write: snapshot the new state.
        snapshot_history(conn, "flag", "flagd", flag, good, at=at(11, 40))
        _audit(conn, at(11, 40), "alice", "rollback_route", "/support/chat", "done",
               {flag: canary}, {flag: good}, "refusals 4x on v14")  # fmt: skip
        with conn:
            conn.execute(
                "INSERT INTO alerts (key, kind, severity, state, title, labels, onset, ended, "
                "updated, detail, acked_by, acked_at, silenced_until) "
                "VALUES (?, 'slo', 'page', 'resolved', ?, ?, ?, ?, ?, '{}', '', NULL, NULL)",
                (ALERT_KEY, "refusal rate on /support/chat",
                 json.dumps({"route": "/support/chat", "signal": "refusal_rate"}),
                 ts_ms(at(11, 1)), ts_ms(at(11, 45)), ts_ms(at(11, 45))),
            )  # fmt: skip
            for ts, event in ((at(11, 1), "pending"), (at(11, 3), "firing"),
                              (at(11, 45), "resolved")):  # fmt: skip
                conn.execute(
                    "INSERT INTO alert_events (ts, key, event, severity, title, detail) "
                    "VALUES (?, ?, ?, 'page', 'refusal rate on /support/chat', ?)",
                    (ts_ms(ts), ALERT_KEY, event, json.dumps({"burn": {"1h": 14.4}})),
                )
            for i, verdict in enumerate(("different", "different", "identical")):
                _replay(conn, f"rb{i}", "b1", at(11, 20) + timedelta(seconds=i), verdict)
            _replay(conn, "rs1", "", at(11, 25), "similar")
    finally:
        conn.close()
    return path / "llmdeck.yaml"


def session(path: Path) -> Session:
    return Session(load_config(path / "llmdeck.yaml").profile("t"))


def open_known_incident(s: Session) -> Incident:
    """The incident of the module docstring, recorded through the record API."""
    incident = record.open_incident(s, "Refusals up on /support/chat", "sev2", at=at(11, 5))
    record.add_note(s, incident.id, "refusals up on v14 | canary suspected", at=at(11, 10))
    record.add_note(s, incident.id, "rolled back; watching", at=at(11, 42))
    return record.close(s, incident.id, at=at(11, 50))
