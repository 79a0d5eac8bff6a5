# ruff: noqa: F811  (pytest fixtures imported from tests.backends)
"""UnleashFlags and the write pipeline against a real Unleash 7.5.1 on
PostgreSQL (tests.backends ``unleash``): kill switches first, toggles,
variant weights, Unleash's own events, compare-and-swap against a concurrent
change, read-only refusal and HTTP errors, every outcome audited.

Unleash cannot be made to answer 409 (change requests are an enterprise
feature) or 5xx on demand, so those two cases use a tiny local HTTP server
that answers with Unleash's error shape (``{"name", "message"}``).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.errors import (
    AuthError,
    BackendUnavailable,
    ChangeRequestRequired,
    Conflict,
    NotFound,
    ReadOnlyError,
)
from connectors.flags.unleash import UnleashFlags
from console.actions import Confirmation, Pipeline, SetEnabled, SetWeights
from console.actions.pipeline import ActionError
from console.audit import trail as audit_log
from console.core.config import load_config
from console.core.session import Session
from tests.backends import unleash  # noqa: F401  (pytest fixture)

TOKEN_VAR = "LLMDECK_TEST_UNLEASH_TOKEN"


class Admin:
    """Direct admin API calls: the test's own setup and the 'other operator'."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": token}, timeout=10)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.http.request(method, path, json=body)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def feature(self, key: str) -> dict[str, Any]:
        return self.call("GET", f"/api/admin/projects/default/features/{key}")  # type: ignore[no-any-return]

    def env(self, key: str, env: str) -> dict[str, Any]:
        return next(e for e in self.feature(key)["environments"] if e["name"] == env)

    def create(self, key: str, kind: str, variants: dict[str, int] | None = None) -> None:
        self.call("POST", "/api/admin/projects/default/features", {"name": key, "type": kind})
        if variants is None:
            return
        strategy = {
            "name": "flexibleRollout",
            "parameters": {"rollout": "100", "stickiness": "default", "groupId": key},
            "constraints": [],
            "variants": [
                {
                    "name": n,
                    "weight": w,
                    "weightType": "variable",
                    "stickiness": "default",
                    "payload": {"type": "string", "value": n.lstrip("v")},
                }
                for n, w in variants.items()
            ],
        }
        self.call(
            "POST",
            f"/api/admin/projects/default/features/{key}/environments/production/strategies",
            strategy,
        )
        self.call("POST", f"/api/admin/projects/default/features/{key}/environments/production/on")

    def strategy_weights(self, key: str) -> dict[str, int]:
        s = self.env(key, "production")["strategies"][0]
        return {v["name"]: v["weight"] for v in s["variants"]}

    def put_weights(self, key: str, weights: dict[str, int]) -> None:
        s = self.env(key, "production")["strategies"][0]
        body = {k: s[k] for k in ("name", "parameters", "constraints")}
        names = list(weights)
        body["variants"] = [
            {
                "name": n,
                "weight": weights[n],
                "stickiness": "default",
                "weightType": "variable" if n == names[-1] else "fix",
            }
            for n in names
        ]
        self.call(
            "PUT",
            f"/api/admin/projects/default/features/{key}/environments/production/strategies/{s['id']}",
            body,
        )


@pytest.fixture
def admin(unleash: tuple[str, str]) -> Iterator[Admin]:
    a = Admin(*unleash)
    yield a
    a.http.close()


@pytest.fixture
def keys(admin: Admin) -> tuple[str, str]:
    """A fresh kill switch and a release flag with variants v13/v14 at 50/50."""
    suffix = uuid.uuid4().hex[:8]
    ks, rel = f"kill-chat-{suffix}", f"answer-rollout-{suffix}"
    admin.create(rel, "release", {"v13": 500, "v14": 500})
    admin.create(ks, "kill-switch")
    return ks, rel


def _session(
    tmp_path: Path,
    unleash: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    read_only: bool = False,
    url: str | None = None,
    token: str | None = None,
) -> Session:
    monkeypatch.setenv(TOKEN_VAR, token or unleash[1])
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n"
        "  prod:\n"
        "    environment: production\n"
        f"    read_only: {'true' if read_only else 'false'}\n"
        "    user: oncall\n"
        "    workspace: ws\n"
        f"    flags: {{kind: unleash, url: '{url or unleash[0]}', token: {{env: {TOKEN_VAR}}}}}\n"
    )
    return Session(load_config(cfg).profile("prod"))


def _audit(session: Session) -> list[tuple[str, str, str, str]]:
    return (
        session.store()
        .execute("SELECT action, target, outcome, reason FROM audit ORDER BY id")
        .fetchall()
    )


def _ok(plan_target: str) -> Confirmation:
    return Confirmation(True, reason="incident 42", typed=plan_target)


def test_reads_kill_switches_first_with_weights_and_last_change(
    unleash: tuple[str, str],
    keys: tuple[str, str],
) -> None:
    ks, rel = keys
    store = UnleashFlags(url=unleash[0], token=unleash[1], environment="production")
    flags = store.flags()
    kinds = [f.kind for f in flags]
    assert kinds.index("kill-switch") < kinds.index("release")
    flag = store.flag(rel)
    env = flag.env("production")
    assert env is not None and env.enabled
    assert {v.name: v.weight for v in env.variants} == {"v13": 50.0, "v14": 50.0}
    assert {v.name: v.value for v in env.variants} == {"v13": "13", "v14": "14"}
    assert env.strategies == ("flexibleRollout",)
    assert isinstance(flag.last_changed, datetime) and flag.last_changed_by
    assert store.flag(rel).revision == flag.revision  # stable across reads
    assert store.flag(ks).is_kill_switch and not store.flag(ks).env("production").enabled  # type: ignore[union-attr]


def test_trip_kill_switch_and_set_weights_through_the_pipeline(
    tmp_path: Path,
    unleash: tuple[str, str],
    keys: tuple[str, str],
    admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ks, rel = keys
    session = _session(tmp_path, unleash, monkeypatch)
    pipeline = Pipeline(session)
    plan = pipeline.plan(SetEnabled(ks, True))
    assert plan.production and plan.steps[0].before["enabled"] is False
    outcome = pipeline.execute(plan, _ok(ks))
    assert outcome.status == "done", outcome.message
    assert admin.env(ks, "production")["enabled"] is True

    plan = pipeline.plan(SetWeights(rel, {"v13": 90, "v14": 10}))
    assert plan.steps[0].after["weights"] == {"v13": 90.0, "v14": 10.0}
    outcome = pipeline.execute(plan, _ok("production"))
    assert outcome.status == "done", outcome.message
    assert admin.strategy_weights(rel) == {"v13": 900, "v14": 100}

    events = session.flags().events()  # type: ignore[union-attr]
    mine = [(e.what, e.target) for e in events if e.target in (ks, rel)]
    assert ("feature-environment-enabled [production]", ks) in mine
    assert ("feature-strategy-update [production]", rel) in mine
    assert [row[2] for row in _audit(session)] == ["done", "done"]
    # The Audit screen's trail merges the local entries with Unleash's own events.
    rows, problems = audit_log.load(session)
    assert not problems
    sources = {(r.source, r.target) for r in rows}
    assert {("llmdeck", ks), ("unleash", ks), ("llmdeck", rel), ("unleash", rel)} <= sources
    assert _audit(session)[0][3] == "incident 42"


def test_a_change_between_plan_and_write_is_detected_and_kept(
    tmp_path: Path,
    unleash: tuple[str, str],
    keys: tuple[str, str],
    admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, rel = keys
    session = _session(tmp_path, unleash, monkeypatch)
    pipeline = Pipeline(session)
    plan = pipeline.plan(SetWeights(rel, {"v13": 100, "v14": 0}))
    admin.put_weights(rel, {"v13": 700, "v14": 300})  # another operator, meanwhile
    outcome = pipeline.execute(plan, _ok(rel))
    assert outcome.status == "conflict"
    assert "changed since the plan" in outcome.message
    assert admin.strategy_weights(rel) == {"v13": 700, "v14": 300}  # nothing overwritten
    assert _audit(session)[-1][2] == "conflict"


def test_connector_compare_and_swap_refuses_a_stale_expected(
    unleash: tuple[str, str],
    keys: tuple[str, str],
    admin: Admin,
) -> None:
    ks, _ = keys
    store = UnleashFlags(url=unleash[0], token=unleash[1], environment="production")
    stale = store.flag(ks)
    admin.call("POST", f"/api/admin/projects/default/features/{ks}/environments/production/on")
    with pytest.raises(Conflict):
        store.set_enabled(ks, "production", False, expected=stale)
    assert admin.env(ks, "production")["enabled"] is True


def test_read_only_refuses_every_write_and_audits_it(
    tmp_path: Path,
    unleash: tuple[str, str],
    keys: tuple[str, str],
    admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ks, rel = keys
    session = _session(tmp_path, unleash, monkeypatch, read_only=True)
    pipeline = Pipeline(session)
    for change in (SetEnabled(ks, True), SetWeights(rel, {"v13": 100, "v14": 0})):
        plan = pipeline.plan(change)  # reading is allowed
        outcome = pipeline.execute(plan, _ok(change.target))
        assert outcome.status == "refused" and "read-only" in outcome.message
        assert pipeline.run(change, lambda p: _ok(p.target)).status == "refused"
    assert [r[2] for r in _audit(session)] == ["refused"] * 4
    assert admin.env(ks, "production")["enabled"] is False
    assert admin.strategy_weights(rel) == {"v13": 500, "v14": 500}
    # Defence in depth: the connector refuses on its own.
    store = session.flags()
    assert store is not None
    with pytest.raises(ReadOnlyError):
        store.set_enabled(ks, "production", True, expected=store.flag(ks))


def test_bad_input_is_a_clear_failure_written_nowhere_and_audited(
    tmp_path: Path,
    unleash: tuple[str, str],
    keys: tuple[str, str],
    admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, rel = keys
    session = _session(tmp_path, unleash, monkeypatch)
    pipeline = Pipeline(session)
    cases = [
        (SetWeights(rel, {"v13": 60, "v14": 50}), "add up to 110, not 100"),
        (SetWeights(rel, {"v13": 50, "v99": 50}), "unknown variant 'v99'"),
        (SetEnabled("no-such-flag-" + uuid.uuid4().hex[:6], True), "not found"),
    ]
    for change, expected in cases:
        with pytest.raises(ActionError) as info:
            pipeline.plan(change)
        assert expected in str(info.value)
        assert "\n" not in str(info.value)
    assert [r[2] for r in _audit(session)] == ["failed"] * 3
    assert admin.strategy_weights(rel) == {"v13": 500, "v14": 500}


def test_401_and_403_are_auth_errors_without_the_token(
    unleash: tuple[str, str],
    admin: Admin,
) -> None:
    bad = UnleashFlags(url=unleash[0], token="*:*.not-a-real-token")
    with pytest.raises(AuthError) as info:
        bad.flags()
    assert "401" in str(info.value) and "not-a-real-token" not in str(info.value)
    client = admin.call(
        "POST",
        "/api/admin/api-tokens",
        {
            "tokenName": f"client-{uuid.uuid4().hex[:6]}",
            "type": "client",
            "environment": "development",
            "projects": ["*"],
        },
    )["secret"]
    with pytest.raises(AuthError) as info:
        UnleashFlags(url=unleash[0], token=client).flags()
    assert "403" in str(info.value) and client not in str(info.value)
    with pytest.raises(NotFound):
        UnleashFlags(url=unleash[0], token=unleash[1]).flag("nope-" + uuid.uuid4().hex)


# -- 409 and 5xx from a stand-in with Unleash's error shape -----------------------

FEATURE = {
    "name": "gated",
    "type": "release",
    "project": "default",
    "environments": [{"name": "production", "enabled": False, "strategies": []}],
}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/down"):
            self._send(503, {"name": "ServiceUnavailable", "message": "db down"})
        elif "/events" in self.path:
            self._send(200, {"version": 1, "events": []})
        else:
            self._send(200, FEATURE)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(
            409, {"name": "ConflictError", "message": "Change requests are enabled in production"}
        )


@pytest.fixture
def stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_409_change_request_and_5xx(
    tmp_path: Path, stand_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = UnleashFlags(url=stand_in, token="t", environment="production")
    with pytest.raises(ChangeRequestRequired) as info:
        store.set_enabled("gated", "production", True, expected=store.flag("gated"))
    assert "change request" in str(info.value)
    with pytest.raises(BackendUnavailable) as down:
        UnleashFlags(url=stand_in + "/down", token="t").flags()
    assert "503" in str(down.value)
    session = _session(tmp_path, (stand_in, "t"), monkeypatch)
    pipeline = Pipeline(session)
    outcome = pipeline.execute(pipeline.plan(SetEnabled("gated", True)), _ok("gated"))
    assert outcome.status == "failed" and "change request" in outcome.message
    assert _audit(session)[-1][2] == "failed"
