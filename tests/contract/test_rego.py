"""The gateway policy: the demo's Rego evaluated by regopy in process, an
undefined result, a broken policy, and an OPA server's Data API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.errors import BackendUnavailable, NotFound, QueryError
from connectors.policy.decision import decision
from connectors.policy.opa import OpaHttpPolicy
from connectors.policy.rego import RegoPolicy

POLICY = Path(__file__).resolve().parents[2] / "console" / "demo" / "policy.rego"


def request(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "request_id": "r1",
        "route": "/support/chat",
        "model_name": "gpt-4o-mini",
        "params": {"temperature": 0.7, "max_tokens": 512, "seed": 1},
        "messages": [{"role": "user", "content": "How do I reset my password?"}],
    }
    base.update(extra)
    return base


@pytest.fixture(scope="module")
def policy() -> RegoPolicy:
    return RegoPolicy(path=POLICY, query="data.ai.gateway")


def test_allowed_request(policy: RegoPolicy) -> None:
    d = policy.evaluate(request())
    assert d.allowed is True and d.denials == ()


def test_every_denying_rule_is_listed(policy: RegoPolicy) -> None:
    d = policy.evaluate(
        request(
            model_name="llama-3.1-8b-instruct",
            params={"max_tokens": 4096},
            messages=[
                {"role": "assistant", "content": None, "tool_calls": []},
                {"role": "user", "content": [{"type": "text", "text": "mail bob@example.com"}]},
            ],
        )
    )
    assert d.allowed is False
    assert d.denials == (
        "max_tokens 4096 is above the cap of 1024",
        "model llama-3.1-8b-instruct is not approved for route /support/chat",
        "pii.email_address: a message contains an email address",
    )


def test_missing_fields_are_denied_not_crashing(policy: RegoPolicy) -> None:
    # sprintf of an empty string makes regopy 1.5.2 emit output it cannot read;
    # the demo policy never formats "" (it says "(none)").
    assert policy.evaluate({"model_name": "gpt-4o-mini"}).denials == (
        "model gpt-4o-mini is not approved for route (none)",
    )
    assert policy.evaluate({}).denials == ("the request names no model",)


def test_undefined_result_is_not_a_crash() -> None:
    """Calling .expressions() on an undefined output aborts the process: the
    connector reads str(output) only. A rule that does not exist is undefined."""
    d = RegoPolicy(path=POLICY, query="data.ai.gateway.no_such_rule").evaluate(request())
    assert d.allowed is None and d.denials == () and d.raw is None


def test_default_only_rule_reads_undefined(tmp_path: Path) -> None:
    path = tmp_path / "p.rego"
    path.write_text('package gw\n\ndefault allow := false\n\ndeny contains "x" if false\n')
    d = RegoPolicy(path=path, query="data.gw").evaluate({})
    assert d.allowed is False and d.denials == ()
    assert RegoPolicy(path=path, query="data.other").evaluate({}).allowed is None


def test_broken_or_missing_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rego"
    bad.write_text("package x\n this is not rego {\n")
    with pytest.raises(QueryError, match="does not parse"):
        RegoPolicy(path=bad).evaluate({})
    with pytest.raises(NotFound):
        RegoPolicy(path=tmp_path / "missing.rego").evaluate({})
    assert RegoPolicy(path=tmp_path / "missing.rego").ping().ok is False


def test_decision_shapes() -> None:
    assert decision(True).allowed is True
    assert decision({"allow": False, "deny": ["plain", {"msg": "m"}]}).denials == ("m", "plain")
    assert decision({"deny": []}).allowed is None


# OPA's Data API (no `opa` binary can be installed here): recorded answers in the
# shape of OPA's REST API documentation, "Get a Document (with Input)":
# POST /v1/data/{path} {"input": ...} -> {"result": ...}; an undefined document
# answers 200 with no "result"; a bad query answers 400 {"code", "message"}.


def opa(answers: dict[str, Any], seen: list[dict[str, Any]]) -> httpx.MockTransport:
    def handler(req: httpx.Request) -> httpx.Response:
        seen.append({"path": req.url.path, "body": json.loads(req.content)})
        return answers[req.url.path]

    return httpx.MockTransport(handler)


def test_opa_http() -> None:
    seen: list[dict[str, Any]] = []
    answers = {
        "/v1/data/ai/gateway": httpx.Response(
            200, json={"result": {"allow": False, "deny": [{"msg": "blocked: pii"}]}}
        ),
        "/v1/data/ai/missing": httpx.Response(200, json={}),
        "/v1/data/ai/bad": httpx.Response(
            400, json={"code": "invalid_parameter", "message": "error(s) occurred\nmore"}
        ),
        "/v1/data/ai/down": httpx.Response(503),
    }
    transport = opa(answers, seen)
    d = OpaHttpPolicy(url="http://opa.test", package="ai.gateway", transport=transport).evaluate(
        request()
    )
    assert d.allowed is False and d.denials == ("blocked: pii",)
    assert seen[0]["body"]["input"]["request_id"] == "r1"
    undefined = OpaHttpPolicy(url="http://opa.test", package="ai/missing", transport=transport)
    assert undefined.evaluate(request()).allowed is None
    with pytest.raises(QueryError, match=r"error\(s\) occurred$"):
        OpaHttpPolicy(url="http://opa.test", package="ai/bad", transport=transport).evaluate({})
    with pytest.raises(BackendUnavailable, match="HTTP 503"):
        OpaHttpPolicy(url="http://opa.test", package="ai/down", transport=transport).evaluate({})


def test_opa_unreachable() -> None:
    p = OpaHttpPolicy(url="http://127.0.0.1:9", timeout_s=0.5)
    with pytest.raises(BackendUnavailable, match=r"OPA at http://127\.0\.0\.1:9"):
        p.evaluate({})
    assert p.ping().ok is False
