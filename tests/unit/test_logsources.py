"""Log sources: the seed schema, OTLP/JSON GenAI spans, LiteLLM spend logs,
and the line reader (gzip, long lines, follow across rotation)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import AuthError
from connectors.logsources import jsonl, otlp
from connectors.logsources.files import MAX_LINE, read_lines
from connectors.logsources.litellm import LiteLLMSpendLogs, spend_record
from connectors.logsources.mapping import BadRecord, Problem, hash_id, stored_id
from connectors.records import RequestRecord
from console.demo.world import hashed

FIXTURES = Path(__file__).parent.parent / "fixtures"


def records(path: Path) -> list[RequestRecord]:
    out = []
    for _, _, item in jsonl.read(path):
        assert not isinstance(item, Problem), item
        out.append(item)
    return out


def test_seed_schema_every_field() -> None:
    recs = {r.request_id: r for r in records(FIXTURES / "jsonl" / "seed.jsonl")}
    full = recs["seed-0001"]
    assert full.ts == datetime(2026, 11, 29, 11, 58, 0, 250000, tzinfo=UTC)
    assert full.params["seed"] == 1234 and full.params["stop"] == ["\n\n"]
    assert full.variables == {"question": "How do I reset my password?", "context": "KB-100"}
    assert full.retrieval and full.retrieval["doc_ids"] == ["kb-100", "kb-204"]
    assert full.safety and full.safety["decision"] == "allow"
    assert (full.tokens_in, full.tokens_out, full.ttft_ms) == (812, 14, 211.0)
    assert full.system_fingerprint == "fp_0ba0d124f1" and full.flag_variant == "v14"
    # raw ids arrive hashed, with the demo's hash, never as given
    assert full.tenant == hashed("tenant", "acme") and full.user == hash_id(
        "user", "alice@acme.example"
    )
    assert "acme" not in full.tenant and "alice" not in full.user


def test_seed_tool_calls_and_hash_only() -> None:
    recs = {r.request_id: r for r in records(FIXTURES / "jsonl" / "seed.jsonl")}
    tools = recs["seed-0002"]
    assert tools.ts == datetime(2026, 11, 29, 11, 59, tzinfo=UTC)  # Unix milliseconds
    assert tools.prompt_version == "3"  # a number is a version too
    assert tools.messages[1]["tool_calls"][0]["function"]["name"] == "order_status"
    assert tools.messages[2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"status": "shipped"}',
    }
    assert tools.tools[0]["function"]["name"] == "order_status"
    assert tools.tenant == "t-cef41eed96b2"  # already hashed: kept as it is
    hash_only = recs["seed-0003"]
    assert not hash_only.has_content and hash_only.output is None
    assert hash_only.prompt_hash == "9e8d7c6b5a493827" and hash_only.status == "blocked"
    aliases = recs["seed-0004"]
    assert aliases.model_name == "gpt-4o-mini" and aliases.refusal
    assert aliases.tenant == hashed("tenant", "acme")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00\x01garbage", "not UTF-8 text (binary data?)"),
        (b"[1, 2]", "expected a JSON object, got a list"),
        (b'{"ts": "2026-11-29T00:00:00Z"}', "request_id: missing"),
        (b'{"request_id": 5, "ts": 0}', "request_id: expected a string, got a number"),
        (b'{"request_id": "a"}', "ts: missing"),
        (b'{"request_id": "a", "ts": "yesterday"}', "ts: not an ISO 8601 time"),
        (b'{"request_id": "a", "ts": 1, "tokens_in": "12"}', "tokens_in: expected an integer"),
        (b'{"request_id": "a", "ts": 1, "messages": "hi"}', "messages: expected a list"),
        (b'{"request_id": "a", "ts": 1, "messages": ["hi"]}', "messages: every item must be"),
        (b'{"request_id": "a", "ts": 1, "status": "weird"}', "status: must be one of"),
        (b'{"request_id": "a", "ts": 1, "refusal": "yes"}', "refusal: expected true or false"),
        (b'{"request_id": "a", "ts": 1, "params": []}', "params: expected an object"),
    ],
)
def test_bad_lines_name_the_reason(line: bytes, reason: str) -> None:
    with pytest.raises(BadRecord) as err:
        jsonl.parse_line(line)
    assert str(err.value).startswith(reason)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
seed_keys = st.sampled_from(
    [
        "request_id",
        "ts",
        "tenant",
        "messages",
        "params",
        "tokens_in",
        "status",
        "refusal",
        "cost_usd",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(seed_keys, json_values, max_size=6))
def test_any_object_maps_or_says_why(obj: dict[str, Any]) -> None:
    """Whatever a line holds, parsing gives a record or a BadRecord, never another error."""
    try:
        rec = jsonl.parse_line(json.dumps(obj).encode())
    except BadRecord as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert rec.request_id == obj["request_id"]
        assert rec.tenant == "" or rec.tenant.startswith("t-")


@given(st.text(min_size=1, max_size=40))
def test_hashing_is_stable_and_idempotent(raw: str) -> None:
    once = stored_id("tenant", raw)
    assert once == stored_id("tenant", once) == hash_id("tenant", raw) or raw == once
    assert once.startswith("t-") and len(once) == 14


# -- OTLP/JSON ------------------------------------------------------------------


def test_otlp_real_spans_joined_with_ancestors() -> None:
    """The fixture was produced by tests/fixtures/make_otlp.py: the official openai
    client, instrumented with opentelemetry-instrumentation-openai-v2, calling the
    llama.cpp server; serialised with opentelemetry-proto."""
    items = list(otlp.read(FIXTURES / "otlp" / "openai_llama.json"))
    assert not [i for i in items if isinstance(i, Problem)]
    recs = {r.request_id: r for r in items if isinstance(r, RequestRecord)}
    assert set(recs) == {"otel-req-0001", "otel-req-0002"}  # only the chat spans
    first = recs["otel-req-0001"]
    assert first.model_name == "smollm2-135m" and first.provider == "openai"
    assert first.params == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 24, "seed": 42}
    assert first.tokens_in > 0 and first.tokens_out == 24 and first.finish_reason == "length"
    assert first.messages[0] == {"role": "system", "content": "You are a terse support assistant."}
    assert first.messages[1]["content"] == "How do I reset my password?"
    assert first.output and len(first.output) > 10
    # from the grandparent (HTTP) and parent (prompt render) spans
    assert first.route == "/support/chat"
    assert (first.prompt_id, first.prompt_version) == ("support-answer", "14")
    assert first.tenant == hashed("tenant", "acme") and first.user.startswith("u-")
    assert first.environment == "staging"  # resource attribute
    assert len(first.trace_id) == 32 and int(first.trace_id, 16)
    assert 0 < first.latency_ms < 60_000
    tool = recs["otel-req-0002"]
    assert tool.messages[1]["tool_calls"][0]["function"] == {
        "name": "order_status",
        "arguments": '{"order":1234}',
    }
    assert tool.messages[2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"status": "shipped"}',
    }
    assert tool.params["seed"] == 7 and tool.params["temperature"] == 0.0


def test_otlp_collector_lines_and_bad_documents(tmp_path: Path) -> None:
    doc = (FIXTURES / "otlp" / "openai_llama.json").read_bytes().strip()
    path = tmp_path / "traces.json"
    path.write_bytes(doc + b"\n{broken\n" + b'{"resourceLogs": []}\n')
    items = list(otlp.read(path))
    problems = [i for i in items if isinstance(i, Problem)]
    assert [(p.line, p.reason) for p in problems] == [
        (2, "not valid JSON"),
        (3, "not an OTLP/JSON trace document (no resourceSpans)"),
    ]
    assert len([i for i in items if isinstance(i, RequestRecord)]) == 2


def test_otlp_error_span_and_hex_ids() -> None:
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "startTimeUnixNano": "1796040000000000000",
        "endTimeUnixNano": "1796040001500000000",
        "status": {"code": 2, "message": "upstream 503"},
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
        ],
    }
    rec = otlp.span_record(span, [], {})
    assert rec.status == "error" and rec.error == "upstream 503"
    assert rec.latency_ms == 1500.0
    assert rec.request_id == "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"


# -- LiteLLM /spend/logs/v2 ---------------------------------------------------------
# Recorded responses: LiteLLM's proxy cannot run here (it downloads Prisma engines
# at start-up). The shapes follow LiteLLM's documentation: the Swagger reference of
# GET /spend/logs/v2 (query start_date, end_date, page, page_size; answer data,
# total, page, page_size, total_pages) and the LiteLLM_SpendLogs row schema
# (docs.litellm.ai, "Getting Started with UI Logs" / spend tracking).


def spend_row(i: int, start: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "request_id": f"chatcmpl-{i:04d}",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "spend": 0.000123,
        "total_tokens": 30,
        "prompt_tokens": 21,
        "completion_tokens": 9,
        "startTime": start,
        "endTime": start.replace(":00.000Z", ":01.250Z"),
        "completionStartTime": start.replace(":00.000Z", ":00.400Z"),
        "model": "gpt-4o-mini",
        "model_group": "gpt-4o-mini",
        "custom_llm_provider": "openai",
        "user": "internal-user-7",
        "end_user": "customer-42",
        "team_id": "team-acme",
        "metadata": {"user_api_key_team_alias": "acme", "status": "success"},
        "cache_hit": "False",
        "request_tags": ["route:/support/chat", "prompt_id:support-answer", "prompt_version:14"],
        "status": "success",
        "messages": [{"role": "user", "content": f"question {i}"}],
        "response": {
            "id": f"chatcmpl-{i:04d}",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "system_fingerprint": "fp_44709d6fcb",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": f"answer {i}"},
                }
            ],
        },
        "proxy_server_request": {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"question {i}"}],
            "temperature": 0.2,
            "seed": 11,
            "max_tokens": 64,
        },
    }
    row.update(extra)
    return row


def mock_litellm(pages: dict[tuple[str, int], dict[str, Any]], calls: list[httpx.Request]):
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        assert request.url.path == "/spend/logs/v2"  # never the unbounded legacy endpoint
        if request.headers.get("Authorization") != "Bearer sk-test":
            return httpx.Response(401, json={"error": "unauthorized"})
        key = (request.url.params["start_date"], int(request.url.params["page"]))
        return httpx.Response(200, json=pages.get(key, {"data": [], "total": 0, "total_pages": 0}))

    return httpx.MockTransport(handler)


def test_litellm_windows_and_pages() -> None:
    failed = spend_row(
        3,
        "2026-11-29T10:30:00.000Z",
        status="failure",
        response={},
        metadata={"error_information": {"error_message": "RateLimitError: 429"}},
    )
    pages = {
        ("2026-11-29 10:00:00", 1): {
            "data": [
                spend_row(1, "2026-11-29T10:05:00.000Z"),
                spend_row(2, "2026-11-29T10:06:00.000Z"),
            ],
            "total": 3,
            "page": 1,
            "page_size": 2,
            "total_pages": 2,
        },
        ("2026-11-29 10:00:00", 2): {
            "data": [failed],
            "total": 3,
            "page": 2,
            "page_size": 2,
            "total_pages": 2,
        },
        ("2026-11-29 11:00:00", 1): {
            "data": [{"request_id": "x", "startTime": "not a time"}],
            "total": 1,
            "page": 1,
            "page_size": 2,
            "total_pages": 1,
        },
    }
    calls: list[httpx.Request] = []
    logs = LiteLLMSpendLogs(
        "http://litellm.test", "sk-test", page_size=2, transport=mock_litellm(pages, calls)
    )
    start = datetime(2026, 11, 29, 10, tzinfo=UTC)
    items = [item for _, item in logs.read(start, start + timedelta(hours=2))]
    windows = [(c.url.params["start_date"], c.url.params["end_date"]) for c in calls]
    assert windows == [
        ("2026-11-29 10:00:00", "2026-11-29 11:00:00"),
        ("2026-11-29 10:00:00", "2026-11-29 11:00:00"),
        ("2026-11-29 11:00:00", "2026-11-29 12:00:00"),
    ]
    recs = [i for i in items if isinstance(i, RequestRecord)]
    problems = [i for i in items if isinstance(i, Problem)]
    assert [r.request_id for r in recs] == ["chatcmpl-0001", "chatcmpl-0002", "chatcmpl-0003"]
    assert [p.reason for p in problems] == ["startTime: not an ISO 8601 time"]
    first = recs[0]
    assert first.route == "/support/chat" and first.prompt_version == "14"
    assert first.params == {"temperature": 0.2, "seed": 11, "max_tokens": 64}
    assert first.output == "answer 1" and first.finish_reason == "stop"
    assert (first.tokens_in, first.tokens_out, first.cost_usd) == (21, 9, 0.000123)
    assert first.latency_ms == 1250.0 and first.ttft_ms == 400.0
    assert first.tenant == hashed("tenant", "team-acme") and first.user == hashed(
        "user", "customer-42"
    )
    assert recs[2].status == "error" and recs[2].error == "RateLimitError: 429"


def test_litellm_refuses_bad_key() -> None:
    logs = LiteLLMSpendLogs("http://litellm.test", "wrong", transport=mock_litellm({}, []))
    start = datetime(2026, 11, 29, tzinfo=UTC)
    with pytest.raises(AuthError, match="HTTP 401, credentials refused"):
        list(logs.read(start, start + timedelta(hours=1)))


def test_litellm_row_needs_an_id() -> None:
    with pytest.raises(BadRecord, match="request_id"):
        spend_record({"startTime": "2026-11-29T10:00:00Z"})


# -- the line reader ------------------------------------------------------------------


def test_long_line_skipped_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as fh:
        fh.write(b'{"a": 1}\n')
        fh.write(b'{"pad": "' + b"x" * (MAX_LINE + 10) + b'"}\n')
        fh.write(b'{"b": 2}\n')
    lines = list(read_lines(path))
    assert [(ln.number, ln.problem) for ln in lines] == [
        (1, None),
        (2, "line longer than 10 MB"),
        (3, None),
    ]
    assert lines[2].data == b'{"b": 2}' and lines[2].end == path.stat().st_size


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    body = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"y" * 200) for i in range(2000))
    whole = gzip.compress(body)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    lines = list(read_lines(path))
    assert lines[-1].problem and lines[-1].problem.startswith("truncated gzip")
    good = [ln for ln in lines if ln.data is not None]
    assert good and all(orjson.loads(ln.data) for ln in good)
    assert [ln.number for ln in good] == list(range(1, len(good) + 1))


def test_resume_from_offset_counts_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"one\ntwo\nthree\n")
    first = list(read_lines(path))
    rest = list(read_lines(path, first[0].end))
    assert [(ln.number, ln.data) for ln in rest] == [(2, b"two"), (3, b"three")]


def test_follow_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    path.write_bytes(b"a1\n")
    stop = threading.Event()
    seen: list[bytes] = []

    def reader() -> None:
        for ln in read_lines(path, follow=True, stop=stop.is_set, poll_s=0.02):
            if ln.data is not None:
                seen.append(ln.data)

    t = threading.Thread(target=reader)
    t.start()

    def wait_for(n: int) -> None:
        deadline = time.monotonic() + 10
        while len(seen) < n and time.monotonic() < deadline:
            time.sleep(0.02)

    wait_for(1)
    with open(path, "ab") as fh:
        fh.write(b"a2\na3-par")  # a partial line waits for its newline
        fh.flush()
        wait_for(2)
        fh.write(b"tial\n")
    wait_for(3)
    path.rename(tmp_path / "live.jsonl.1")  # logrotate: move, then a new file
    with open(tmp_path / "live.jsonl.1", "ab") as old:
        old.write(b"a4-late\n")  # written by the old handle after the move
    path.write_bytes(b"b1\nb2\n")
    wait_for(6)
    stop.set()
    t.join(timeout=10)
    assert seen == [b"a1", b"a2", b"a3-partial", b"a4-late", b"b1", b"b2"]
