"""Suspects of an alert: on generated traffic whose true cause is known (with
decoys that touched no affected traffic, or traffic that behaves like the
rest), with figures checked against counts taken from the generator itself,
and on the demo's incident."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.records import ChangeEvent, Flag, FlagEnvironment, RequestRecord, Variant
from connectors.request_log.workspace import WorkspaceRequestLog
from connectors.workspace.store import append_audit, insert_records, snapshot_history, ts_ms
from console.actions import MoveAlias, Pipeline, RollbackRoute, SetEnabled, SetWeights
from console.alerts import suspect_traffic
from console.alerts import suspects as suspects_mod
from console.alerts.model import Alert
from console.alerts.suspect_changes import DIM, Context, from_flag_events, from_history
from console.alerts.suspect_traffic import LogTraffic, Scope, slow_count
from console.alerts.suspects import Suspect, SuspectError, rank, rank_report
from console.core.config import load_config
from console.core.session import Session, open_store
from console.demo.world import CANARY_AGO, INCIDENT_ROUTE
from console.drift.stats import welch_t
from tests.conftest import FIXED_NOW

NOW = FIXED_NOW
ONSET = NOW - timedelta(hours=2)
WINDOW_START = ONSET - timedelta(hours=6)
T_MODEL = NOW - timedelta(hours=4)  # decoy: model m-b enters /chat, same refusal rates
T_OTHER = NOW - timedelta(hours=3)  # decoy: a flag on /other
T_ROLLOUT = NOW - timedelta(hours=2, minutes=10)  # the cause: answer v2 (refuses 20%)
T_FP = NOW - timedelta(hours=1, minutes=30)  # the cause on /fp: a fingerprint, errors 15%
T_POLICY = NOW - timedelta(hours=1)  # the cause on /policy: a safety policy, refusals 25%
START = NOW - timedelta(hours=40)


@dataclass(frozen=True)
class Row:
    ts: datetime
    route: str
    version: str
    model: str
    refusal: bool
    error: bool


def _generate() -> list[Row]:
    """Deterministic traffic: /chat every 10 s, /other and /fp every 20 s.

    On /chat, from T_ROLLOUT every other request is v2; from T_MODEL every
    other pair goes to m-b, independently of the version. v1 refuses every
    50th of its requests, v2 every 5th, whatever the model: the model change
    explains nothing. On /fp, from T_FP every request carries the new
    fingerprint and one in 7 fails (one in 100 before).
    """
    rows: list[Row] = []
    for route, step in (("/chat", 10), ("/other", 20), ("/fp", 20), ("/policy", 30)):
        seen: dict[str, int] = {}
        t = START
        i = 0
        while t < NOW:
            version, model = "1", {"/chat": "m-a", "/fp": "m-c"}.get(route, "m-a")
            if route == "/chat" and t >= T_ROLLOUT and i % 2:
                version = "2"
            if route == "/chat" and t >= T_MODEL and (i // 2) % 2:
                model = "m-b"
            k = seen.get(version, 0)
            seen[version] = k + 1
            refusal = route == "/chat" and k % (5 if version == "2" else 50) == 0
            if route == "/policy":
                refusal = i % (4 if t >= T_POLICY else 40) == 0
            error = route == "/fp" and i % (7 if t >= T_FP else 100) == 0
            rows.append(Row(t, route, version, model, refusal, error))
            t += timedelta(seconds=step)
            i += 1
    return rows


def _record(n: int, r: Row) -> RequestRecord:
    prompt = r.route.strip("/") + "-prompt" if r.route != "/chat" else "answer"
    fp = "fp_new" if r.route == "/fp" and r.ts >= T_FP else "fp_old"
    return RequestRecord(
        request_id=f"req_{n:08d}",
        ts=r.ts,
        route=r.route,
        prompt_id=prompt,
        prompt_version=r.version,
        model_name=r.model,
        model_digest=f"sha256:{r.model}",
        system_fingerprint=fp,
        flag_variant=f"v{r.version}",
        refusal=r.refusal,
        status="error" if r.error else "ok",
        latency_ms=400.0,
        cost_usd=0.001,
        safety={
            "policy_version": "p-2" if r.route == "/policy" and r.ts >= T_POLICY else "p-1",
            "decision": "allow",
        },
        retrieval={"index_snapshot": "kb-1"},
    )


FLAGS = {
    "flags": {
        "answer-rollout": {
            "state": "ENABLED",
            "variants": {"v1": "1", "v2": "2"},
            "defaultVariant": "v1",
            "targeting": {"fractional": [["v1", 50], ["v2", 50]]},
            "metadata": {"route": "/chat", "prompt": "answer"},
        },
        "other-rollout": {
            "state": "ENABLED",
            "variants": {"x1": "1", "x2": "2"},
            "defaultVariant": "x2",
            "metadata": {"route": "/other", "prompt": "other-prompt"},
        },
    }
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Row]]]:
    path = tmp_path_factory.mktemp("suspects")
    rows = _generate()
    conn = open_store(path)
    insert_records(conn, [_record(n, r) for n, r in enumerate(rows)])
    before = NOW - timedelta(hours=30)
    for key, base, changed, at in (
        ("answer-rollout", {"v1": 100.0, "v2": 0.0}, {"v1": 50.0, "v2": 50.0}, T_ROLLOUT),
        ("other-rollout", {"x1": 100.0, "x2": 0.0}, {"x1": 0.0, "x2": 100.0}, T_OTHER),
    ):
        snapshot_history(conn, "flag", "flagd", key, {"enabled": True, "weights": base}, at=before)
        snapshot_history(conn, "flag", "flagd", key, {"enabled": True, "weights": changed}, at=at)
    append_audit(
        conn,
        {
            "ts": ts_ms(T_ROLLOUT),
            "who": "dana",
            "action": "set_weights",
            "target": "answer-rollout",
            "outcome": "done",
        },
    )
    # A store written by another tool: a safety column that is not JSON, in the
    # look-back and in the window, must not fail the reads.
    for at in (WINDOW_START - timedelta(hours=2), T_POLICY - timedelta(minutes=30)):
        with conn:
            conn.execute(
                "UPDATE requests SET safety = '{\"policy_version\": ' WHERE rowid = "
                "(SELECT rowid FROM requests WHERE route = '/policy' AND ts >= ? LIMIT 1)",
                (ts_ms(at),),
            )
    conn.close()
    (path / "flags.json").write_text(json.dumps(FLAGS, indent=2))
    (path / "llmdeck.yaml").write_text(
        "profiles:\n  gen:\n    workspace: .\n    request_log: {kind: workspace}\n"
        "    flags: {kind: flagd, path: flags.json}\n"
    )
    yield path, rows


@pytest.fixture
def gen_session(generated: tuple[Path, list[Row]], frozen_clock: datetime) -> Iterator[Session]:
    session = Session(load_config(generated[0] / "llmdeck.yaml").profile("gen"))
    yield session
    session.close()


def _alert(route: str, signal: str = "refusal_rate", onset: datetime = ONSET) -> Alert:
    return Alert(
        key=f"slo:{route}:{signal}:page",
        kind="slo",
        severity="page",
        state="firing",
        title=f"{route} {signal}",
        labels={"route": route, "signal": signal, "objective": signal},
        onset=onset,
        objective=0.05,
    )


def _z(x_base: int, n_base: int, x_cur: int, n_cur: int) -> float:
    """The pooled two-proportion z, written out again from the textbook."""
    p = (x_base + x_cur) / (n_base + n_cur)
    return (x_cur / n_cur - x_base / n_base) / math.sqrt(p * (1 - p) * (1 / n_base + 1 / n_cur))


def _by_kind(found: list[Suspect], kind: str, text: str) -> Suspect:
    return next(s for s in found if s.kind == kind and text in s.what)


def test_the_rollout_that_raised_refusals_ranks_first_and_decoys_explain_nothing(
    gen_session: Session, generated: tuple[Path, list[Row]]
) -> None:
    _, rows = generated
    found = rank(gen_session, _alert("/chat"))
    top = found[0]
    assert top.kind == "flag" and "answer-rollout" in top.what and "v2 0%→50%" in top.what
    assert top.evidence.startswith("v2 rollout ")
    # The flag change and v2's first request touched the same requests: one suspect.
    assert top.related == ("answer v2 entered traffic on /chat",)
    assert top.who == "dana"
    assert top.diff == ("prompt", "answer", "1", "2")
    assert top.rollback == SetWeights("answer-rollout", {"v1": 100.0, "v2": 0.0})

    # Hand-computed from the generator's own rows: v2 against v1 since the rollout.
    chat = [r for r in rows if r.route == "/chat"]
    since = [r for r in chat if r.ts >= T_ROLLOUT]
    v2 = [r for r in since if r.version == "2"]
    v1 = [r for r in since if r.version == "1"]
    assert (top.touched, top.untouched) == (len(v2), len(v1))
    x2, x1 = sum(r.refusal for r in v2), sum(r.refusal for r in v1)
    assert top.touched_rate == pytest.approx(x2 / len(v2))
    assert top.untouched_rate == pytest.approx(x1 / len(v1))
    assert top.touched_rate == pytest.approx(0.2, abs=0.01)
    assert top.z == pytest.approx(_z(x1, len(v1), x2, len(v2)), rel=1e-9)
    assert top.z > 5 and top.p_value is not None and top.p_value < 1e-6
    base = [r for r in chat if WINDOW_START - timedelta(hours=24) <= r.ts < WINDOW_START]
    base_rate = sum(r.refusal for r in base) / len(base)
    route_now = (x1 + x2) / len(since)
    share = len(v2) / len(since)
    want = share * (x2 / len(v2) - x1 / len(v1)) / (route_now - base_rate)
    assert top.explained == pytest.approx(min(1.0, want), rel=1e-9)
    assert top.explained > 0.9

    # Decoy 1: a model that entered /chat's traffic and refuses like the rest.
    model = _by_kind(found, "model", "m-b")
    mb = [r for r in chat if r.ts >= T_MODEL and r.model == "m-b"]
    assert model.touched == len(mb) and model.diff == ("model", "m-a", "m-b")
    assert abs(model.z) < 1.96 and model.explained < 0.05
    assert model.rollback is None and "no kill switch blocks m-b" in model.evidence
    # Decoy 2: a flag on another route touched none of /chat's traffic.
    other = _by_kind(found, "flag", "other-rollout")
    assert other.touched == 0 and other.z == 0 and other.explained == 0
    assert "touched none of /chat's traffic" in other.evidence
    assert found.index(top) < found.index(model) and found.index(top) < found.index(other)
    # Nothing that served all along (digest, policy, index, fingerprint) is a suspect.
    assert {s.kind for s in found} == {"flag", "model"}


def test_the_top_suspects_rollback_is_a_plan_of_the_write_pipeline(gen_session: Session) -> None:
    top = rank(gen_session, _alert("/chat"))[0]
    assert top.rollback is not None
    plan = Pipeline(gen_session).plan(top.rollback, dry_run=True)
    assert [(s.action, s.target) for s in plan.steps] == [("set_weights", "answer-rollout")]
    assert plan.steps[0].before["weights"] == {"v1": 50.0, "v2": 50.0}
    assert plan.steps[0].after["weights"] == {"v1": 100.0, "v2": 0.0}


def test_a_provider_fingerprint_that_touched_all_traffic_is_judged_against_before(
    gen_session: Session, generated: tuple[Path, list[Row]]
) -> None:
    _, rows = generated
    onset = T_FP + timedelta(minutes=10)
    found = rank(gen_session, _alert("/fp", "error_rate", onset))
    top = found[0]
    assert top.kind == "fingerprint" and "fp_new" in top.what
    assert top.compared_with == "before"
    fp = [r for r in rows if r.route == "/fp"]
    after = [r for r in fp if r.ts >= T_FP]
    before = [r for r in fp if onset - timedelta(hours=6) <= r.ts < T_FP]
    assert (top.touched, top.untouched) == (len(after), len(before))
    xa, xb = sum(r.error for r in after), sum(r.error for r in before)
    assert top.z == pytest.approx(_z(xb, len(before), xa, len(after)), rel=1e-9)
    assert top.explained > 0.9
    assert top.rollback is None and top.diff is None
    assert "after vs" in top.evidence and "before" in top.evidence
    assert top.evidence.endswith("no rollback: the provider changed its system fingerprint")
    # The flags steer other routes: they touched none of /fp's traffic.
    assert all(s.touched == 0 and s.explained == 0 for s in found if s.kind == "flag")


def test_a_new_fingerprint_is_found_when_only_a_sample_of_the_window_is_read(
    gen_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = rank(gen_session, _alert("/fp", "error_rate", T_FP + timedelta(minutes=10)))[0]
    # About 100 of the window's 1,320 requests are read to find new values; the
    # figures still come from all of them.
    monkeypatch.setattr(suspect_traffic, "SAMPLE", 100)
    sampled = rank(gen_session, _alert("/fp", "error_rate", T_FP + timedelta(minutes=10)))[0]
    assert sampled == exact


def test_a_new_safety_policy_is_found_despite_a_store_with_broken_json(
    gen_session: Session,
) -> None:
    found = rank(gen_session, _alert("/policy", onset=T_POLICY + timedelta(minutes=10)))
    top = found[0]
    assert top.kind == "policy" and "p-2" in top.what and top.ts == T_POLICY
    assert top.z > 5 and top.explained > 0.9 and top.rollback is None
    assert "no rollback: the gateway policy is deployed outside llmdeck" in top.evidence


def test_the_request_log_interface_gives_the_same_figures_as_the_workspace(
    gen_session: Session, generated: tuple[Path, list[Row]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = rank_report(gen_session, _alert("/chat"))
    log = WorkspaceRequestLog(path=generated[0] / "store.db")
    via_log = LogTraffic(log)
    monkeypatch.setattr(suspects_mod, "_traffic", lambda session: (via_log, list(via_log.notes)))
    paged = rank_report(gen_session, _alert("/chat"))
    assert "not the workspace" in paged.notes[0]
    assert [(s.what, s.touched, s.untouched, round(s.z, 9)) for s in paged.suspects] == [
        (s.what, s.touched, s.untouched, round(s.z, 9)) for s in sql.suspects
    ]
    assert paged.baseline == pytest.approx(sql.baseline)
    # A cap on what it reads is said, not hidden.
    capped = LogTraffic(log, cap=1000)
    monkeypatch.setattr(suspects_mod, "_traffic", lambda session: (capped, capped.notes))
    notes = rank_report(gen_session, _alert("/chat")).notes
    assert any("read the newest 1,000 requests" in n for n in notes)


def test_an_alert_without_a_route_or_per_request_signal_is_one_clear_line(
    gen_session: Session,
) -> None:
    no_route = Alert(
        "slo:x:refusal_rate", "slo", "page", "firing", "x", labels={"signal": "refusal_rate"}
    )
    with pytest.raises(SuspectError, match="no route or tenant"):
        rank(gen_session, no_route)
    with pytest.raises(SuspectError, match="not measured per request"):
        rank(gen_session, _alert("/chat", "eval_pass_ratio"))


def test_latency_over_the_objective_from_buckets_and_welch_t() -> None:
    # Buckets (.., 5000], (5000, 7500], (7500, 10000]: 6500 ms splits the second.
    buckets = [0.0] * 15
    buckets[10], buckets[11], buckets[12] = 10.0, 10.0, 4.0
    assert slow_count(buckets, 6500) == pytest.approx(10 * (7500 - 6500) / 2500 + 4)
    assert slow_count(buckets, 7500) == pytest.approx(4.0)
    # Welch's t against the textbook formula on two small samples.
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1)
    t = welch_t(ma, va, len(a), mb, vb, len(b))
    assert t.t == pytest.approx((mb - ma) / math.sqrt(va / len(a) + vb / len(b)))
    assert t.df == pytest.approx((va / 5 + vb / 6) ** 2 / ((va / 5) ** 2 / 4 + (vb / 6) ** 2 / 5))
    assert t.p_value is None  # under 30 degrees of freedom: no normal shortcut


def test_the_demo_incident_points_at_the_v14_rollout(demo_session: Session) -> None:
    onset = FIXED_NOW - CANARY_AGO + timedelta(minutes=5)
    report = rank_report(demo_session, _alert(INCIDENT_ROUTE, onset=onset))
    top = report.suspects[0]
    assert top.kind in ("flag", "prompt_version")
    assert "14" in top.evidence.split(":")[0]
    assert top.touched_rate is not None and top.untouched_rate is not None
    assert top.touched_rate > 2 * top.untouched_rate
    assert top.z > 5 and top.explained > 0.5
    assert isinstance(top.rollback, RollbackRoute | SetWeights)
    if isinstance(top.rollback, SetWeights):
        assert top.rollback.flag == "support-answer-rollout"
        assert top.rollback.weights["v14"] == 0 and top.rollback.weights["v13"] == 100
    else:
        assert top.rollback == RollbackRoute(INCIDENT_ROUTE)
    assert top.diff == ("prompt", "support-answer", "13", "14")
    assert report.baseline is not None and report.now is not None
    assert report.now > report.baseline
    plan = Pipeline(demo_session).plan(top.rollback, dry_run=True)
    assert plan.steps and plan.steps[0].target == "support-answer-rollout"


def _flag(key: str, kind: str = "release", **meta: str) -> Flag:
    env = FlagEnvironment(
        "development", True, (Variant("v1", 100.0, "1"), Variant("v2", 0.0, "2")), "v1"
    )
    return Flag(key, kind, (env,), metadata=meta)


def test_changes_of_the_log_say_what_they_touched_and_what_undoes_them() -> None:
    ctx = Context(
        Scope("route", "/chat", "/chat"),
        WINDOW_START,
        ONSET + timedelta(minutes=30),
        {
            "rollout": _flag("rollout", route="/chat", prompt="answer"),
            "kill-chat": _flag("kill-chat", "kill-switch", route="/chat"),
            "kill-else": _flag("kill-else", "kill-switch", route="/else"),
        },
        "development",
        {("answer:canary", ts_ms(T_ROLLOUT)): "sam"},
    )
    inside, outside = ts_ms(T_ROLLOUT), ts_ms(WINDOW_START - timedelta(hours=1))

    def state(**kw: object) -> str:
        return json.dumps(kw)

    rows = [
        (outside, "alias", "answer", state(production="1")),
        (inside, "alias", "answer", state(production="2", canary="2")),
        (outside, "flag", "kill-chat", state(enabled=False, weights={})),
        (inside, "flag", "kill-chat", state(enabled=True, weights={})),
        (outside, "flag", "kill-else", state(enabled=False, weights={})),
        (inside, "flag", "kill-else", state(enabled=True, weights={})),
        (outside, "flag", "rollout", state(enabled=True, weights={"v1": 0.0, "v2": 100.0})),
        (inside, "flag", "rollout", state(enabled=False, weights={"v1": 0.0, "v2": 100.0})),
        (outside, "flag", "dormant", state(enabled=False, weights={"v1": 100.0, "v2": 0.0})),
        (inside, "flag", "dormant", state(enabled=False, weights={"v1": 0.0, "v2": 100.0})),
        # First snapshot of a key: the baseline, never a change.
        (inside, "flag", "fresh", state(enabled=True, weights={"v1": 100.0})),
    ]
    rows.sort(key=lambda r: (r[1], r[2], r[0]))
    found = {c.what: c for c in from_history(rows, ctx)}
    assert set(found) == {
        "answer alias canary added at 2",
        "answer alias production 1→2",
        "flag kill-chat on",
        "flag kill-else on",
        "flag rollout off",
        "flag dormant v1 100%→0%, v2 0%→100%",
    }
    assert found["flag dormant v1 100%→0%, v2 0%→100%"].match is None  # it stayed off
    moved = found["answer alias production 1→2"]
    assert moved.rollback == MoveAlias("answer", "production", "1")
    assert moved.diff == ("prompt", "answer", "1", "2")
    assert moved.match == ((DIM["prompt_id"], {"answer"}), (DIM["prompt_version"], {"2"}))
    added = found["answer alias canary added at 2"]
    assert added.rollback == RollbackRoute("/chat") and added.who == "sam"
    assert found["flag kill-chat on"].match == ()  # all of /chat's traffic
    assert found["flag kill-chat on"].rollback == SetEnabled("kill-chat", False)
    assert found["flag kill-else on"].match is None  # none of it
    # Turned off, the flag serves its default variant (v1, prompt version 1).
    off = found["flag rollout off"]
    assert (DIM["prompt_version"], {"1"}) in (off.match or ())
    assert off.rollback == SetEnabled("rollout", True)

    # The flag backend's own log: a change no snapshot holds touched all the
    # traffic the flag steers on the route; one a snapshot holds is not repeated.
    events = [
        ChangeEvent(T_ROLLOUT, "unleash", "feature-updated", "ops", "kill-chat"),
        ChangeEvent(T_MODEL, "unleash", "feature-updated", "ops", "rollout"),
        ChangeEvent(T_MODEL, "unleash", "feature-updated", "ops", "kill-else"),
        ChangeEvent(T_MODEL, "unleash", "feature-updated", "ops", "unknown-flag"),
    ]
    logged = {c.what: c for c in from_flag_events(events, list(found.values()), ctx)}
    assert set(logged) == {
        "flag rollout feature-updated (unleash)",
        "flag kill-else feature-updated (unleash)",
        "flag unknown-flag feature-updated (unleash)",
    }
    assert logged["flag rollout feature-updated (unleash)"].match == ()
    assert logged["flag kill-else feature-updated (unleash)"].match is None
    assert logged["flag unknown-flag feature-updated (unleash)"].match is None
    assert all(c.rollback is None and c.who == "ops" for c in logged.values())
