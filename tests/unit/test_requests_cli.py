"""Headless request commands: ingest, requests, request, policy check; and the
query plans that keep pages fast on a big store."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import RequestFilter
from connectors.request_log.workspace import WorkspaceRequestLog, where_clause
from console.demo.world import BAD_VERSION, INCIDENT_PROMPT, INCIDENT_ROUTE, hashed
from console.requests.query import FilterError, from_group, parse_quick
from tests.conftest import FIXED_NOW

FIXTURES = Path(__file__).parent.parent / "fixtures"


def llmdeck(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "--config", str(ws / "llmdeck.yaml"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(ws),
            "LLMDECK_FROZEN_TIME": FIXED_NOW.isoformat(),
        },
    )


def test_ingest_requests_request_policy(demo_copy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes((FIXTURES / "jsonl" / "seed.jsonl").read_bytes() + b"{oops\n")
    proc = llmdeck(
        demo_copy, "ingest", str(bad), str(FIXTURES / "otlp" / "openai_llama.json"), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["added"] == 6 and report["malformed"] == 1
    assert report["problems"]["not valid JSON"]["first"] == [{"source": str(bad), "line": 5}]
    again = json.loads(llmdeck(demo_copy, "ingest", str(bad), "--json").stdout)
    assert again["added"] == 0

    proc = llmdeck(demo_copy, "request", "seed-0002", "--json")
    rec = json.loads(proc.stdout)
    assert rec["messages"][2]["role"] == "tool" and rec["params"]["seed"] == 7
    text = llmdeck(demo_copy, "request", "seed-0002").stdout
    assert "-> tool call order_status" in text and "tool result (call_1)" in text
    curl = llmdeck(demo_copy, "request", "seed-0001", "--curl").stdout
    assert curl.startswith("curl -sS") and '"seed": 1234' in curl and "$OPENAI_API_KEY" in curl
    hash_only = llmdeck(demo_copy, "request", "seed-0003", "--curl")
    assert hash_only.returncode == 2 and "hashes only" in hash_only.stderr

    listed = llmdeck(
        demo_copy, "requests", "--tenant", "acme", "--text", "password", "--jsonl", "--limit", "500"
    )
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows and all(r["tenant"] == hashed("tenant", "acme") for r in rows)
    assert "seed-0001" in {r["request_id"] for r in rows}

    ok = llmdeck(demo_copy, "policy", "check", "seed-0001", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout) == {
        "request_id": "seed-0001",
        "decision": "allow",
        "denials": [],
    }
    denied = llmdeck(demo_copy, "policy", "check", "seed-0004")
    assert denied.returncode == 1
    assert denied.stdout.splitlines() == [
        "deny",
        "  deny: pii.email_address: a message contains an email address",
    ]
    missing = llmdeck(demo_copy, "request", "nope")
    assert (
        missing.returncode == 2 and "nope" in missing.stderr and "Traceback" not in missing.stderr
    )


def test_requests_filters_on_the_demo(demo_dir: Path) -> None:
    proc = llmdeck(
        demo_dir,
        "requests",
        "--route",
        INCIDENT_ROUTE,
        "--prompt-version",
        BAD_VERSION,
        "--refusal",
        "--since",
        "1h",
        "--limit",
        "20",
        "--jsonl",
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 20
    assert all(r["refusal"] and r["prompt_version"] == BAD_VERSION for r in rows)
    stamps = [r["ts"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    by_latency = llmdeck(demo_dir, "requests", "--sort", "latency", "--limit", "5", "--jsonl")
    lat = [json.loads(line)["latency_ms"] for line in by_latency.stdout.splitlines()]
    assert lat == sorted(lat, reverse=True) and lat[0] >= 30000  # timeouts first
    bad = llmdeck(demo_dir, "requests", "--sort", "color")
    assert bad.returncode == 2 and "cannot sort by 'color'" in bad.stderr


def test_keyset_pages_do_not_overlap(demo_dir: Path) -> None:
    log = WorkspaceRequestLog(path=demo_dir / "store.db")
    for order in ("ts", "latency_ms", "cost_usd", "tokens_out"):
        flt = RequestFilter(route=INCIDENT_ROUTE, order=order)
        seen: list[str] = []
        cursor = None
        for _ in range(4):
            page = log.page(flt, limit=50, cursor=cursor)
            seen += [r.request_id for r in page.records]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == 200
        values = [getattr(log.get(i), order) for i in seen]
        assert values == sorted(values, key=lambda v: -v.timestamp() if order == "ts" else -v)


@pytest.mark.parametrize(
    ("flt", "index"),
    [
        (RequestFilter(), "idx_requests_ts"),
        (RequestFilter(route="/support/chat"), "idx_requests_route_ts"),
        (RequestFilter(tenant="t-x"), "idx_requests_tenant_ts"),
        (RequestFilter(model="m"), "idx_requests_model_name_ts"),
        (RequestFilter(prompt_version="14"), "idx_requests_prompt_version_ts"),
        (RequestFilter(status="error"), "idx_requests_status_ts"),
        (RequestFilter(route="/support/chat", refusal=True), "idx_requests_route_ts"),
        (RequestFilter(blocked=True), "idx_requests_status_ts"),
        (RequestFilter(order="latency_ms"), "idx_requests_latency_ms"),
        (RequestFilter(order="cost_usd"), "idx_requests_cost_usd"),
        (RequestFilter(order="tokens_out"), "idx_requests_tokens_out"),
    ],
)
def test_plans_read_the_composite_index_in_order(
    demo_dir: Path, flt: RequestFilter, index: str
) -> None:
    """No temporary B-tree sort: the (dimension, ts) index is read newest first."""
    log = WorkspaceRequestLog(path=demo_dir / "store.db")
    plan = log.explain(flt, cursor="1795953540000:5")
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_full_text_pages_walk_matches_newest_first(demo_dir: Path) -> None:
    log = WorkspaceRequestLog(path=demo_dir / "store.db")
    flt = parse_quick("refund tenant:acme")
    paged: list[str] = []
    cursor = None
    for _ in range(3):
        page = log.page(flt, limit=40, cursor=cursor)
        for r in page.records:
            text = " ".join(str(m.get("content")) for m in r.messages) + (r.output or "")
            assert "refund" in text.lower() and r.tenant == hashed("tenant", "acme")
        paged += [r.request_id for r in page.records]
        cursor = page.next_cursor
        assert cursor
    ids = [r.request_id for r in log.page(flt, limit=120).records]
    assert paged == ids and len(set(ids)) == 120  # pages join up, no gap, no repeat
    with pytest.raises(Exception, match="request query failed"):
        log.page(RequestFilter(text='"unbalanced'))


def test_quick_filter_syntax(frozen_clock: object) -> None:
    flt = parse_quick(
        'route:/support/chat tenant:acme v:14 refusal !blocked since:2h "reset password" sort:cost'
    )
    assert flt.route == "/support/chat" and flt.tenant == hashed("tenant", "acme")
    assert flt.prompt_version == "14" and flt.refusal is True and flt.blocked is False
    assert flt.since == FIXED_NOW - timedelta(hours=2) and flt.order == "cost_usd"
    assert flt.text == '"reset password"'
    assert parse_quick('what "quoted').text  # an unbalanced quote is still searchable
    with pytest.raises(FilterError, match="status must be one of"):
        parse_quick("status:weird")
    _conds, params = where_clause(parse_quick("it's OR NOT"))
    assert params == ['"it\'s" "OR" "NOT"']  # plain words, never FTS syntax


def test_from_drift_row() -> None:
    flt = from_group("prompt_version", f"{INCIDENT_PROMPT}@{BAD_VERSION}", "refusal_rate")
    assert (flt.prompt_id, flt.prompt_version, flt.refusal) == (INCIDENT_PROMPT, BAD_VERSION, True)
    assert from_group("tenant", hashed("tenant", "acme"), "latency_p95").order == "latency_ms"
    assert from_group("model", "gpt-4o-mini", "block_rate").blocked is True
