"""Issue 14: property-based fuzz of the JSONL and OTLP parsers, through to the
store. Whatever the input, a parser yields records or reported problems
(BadRecord inside), and the ingester stores or reports every record: no
other exception may escape. Bounded: a few hundred examples, a deadline."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.logsources import jsonl, otlp
from connectors.logsources.mapping import BadRecord, Problem
from connectors.records import RequestRecord
from connectors.workspace.schema import connect
from console.ingest.runner import Ingester, IngestReport

FUZZ = settings(
    max_examples=300,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),  # orjson writes NaN as null anyway
    st.text(max_size=12),
)
_json = st.recursive(
    _scalar,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
    max_leaves=10,
)
SEED_KEYS = [
    "request_id",
    "ts",
    "timestamp",
    "route",
    "tenant",
    "user",
    "prompt_version",
    "model",
    "params",
    "messages",
    "tools",
    "output",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "status",
    "refusal",
    "safety",
]
_ts = st.one_of(
    st.integers(min_value=-(2**66), max_value=2**66),
    st.floats(allow_nan=False),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.text(max_size=25),
)
# The values past SQLite's range are listed: hypothesis seldom draws them.
_number = st.one_of(
    st.sampled_from([2**63, 2**64, 1e300, -1, -0.5, 0, 12]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
)
_good_ts = st.integers(min_value=946_684_800_000, max_value=4_102_444_800_000) | st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(9999, 1, 1)
).map(lambda d: d.isoformat() + "Z")
_object = st.dictionaries(st.text(max_size=6), _json, max_size=3)
# Mostly the right type for each key (so records get as far as the store),
# with any JSON value now and then.
TYPED: dict[str, st.SearchStrategy[Any]] = {
    "route": st.text(max_size=10),
    "tenant": st.text(max_size=10),
    "user": st.text(max_size=10),
    "prompt_version": st.text(max_size=4) | st.integers(),
    "model": st.text(max_size=10),
    "output": st.text(max_size=20),
    "params": _object,
    "safety": _object,
    "messages": st.lists(_object, max_size=3),
    "tools": st.lists(_object, max_size=2),
    "tokens_in": _number,
    "tokens_out": _number,
    "cost_usd": _number,
    "latency_ms": _number,
    "ttft_ms": _number,
    "status": st.sampled_from(["ok", "error", "blocked", "timeout", "weird"]),
    "refusal": st.booleans(),
}
_seed = st.fixed_dictionaries(
    {"request_id": st.text(min_size=1, max_size=10), "ts": _good_ts},
    optional={k: v | v | v | _json for k, v in TYPED.items()},
) | st.fixed_dictionaries(
    {"request_id": st.text(max_size=10) | _json, "ts": _ts},
    optional={k: _json for k in SEED_KEYS[2:]},
)


def _dumps(value: Any) -> bytes:
    # The standard library writes integers of any size (orjson refuses past
    # 64 bits), so the parsers meet the huge numbers a gateway might send.
    return json.dumps(value).encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "store.db")
    yield conn
    conn.close()


def _store_all(conn: sqlite3.Connection, items: list[RequestRecord | Problem]) -> IngestReport:
    report = IngestReport()
    ing = Ingester(conn, report, batch=1000)
    for n, item in enumerate(items, start=1):
        ing.add("fuzz", n, item)
    ing.flush()
    return report


@FUZZ
@given(st.lists(_seed.map(_dumps) | st.binary(max_size=60), min_size=1, max_size=5))
def test_fuzz_jsonl_lines_parse_and_store(store: sqlite3.Connection, lines: list[bytes]) -> None:
    items: list[RequestRecord | Problem] = []
    for n, line in enumerate(lines, start=1):
        try:
            items.append(jsonl.parse_line(line))
        except BadRecord as exc:
            assert "\n" not in str(exc)
            items.append(Problem("fuzz", n, str(exc)))
    report = _store_all(store, items)
    # Every input is accounted for: stored, a duplicate, or a reported problem.
    assert report.added + report.duplicates.count + report.bad == len(lines)


def _any_value(depth: int = 2) -> st.SearchStrategy[Any]:
    leaf = st.one_of(
        st.builds(lambda v: {"stringValue": v}, st.text(max_size=10) | _json),
        st.builds(lambda v: {"intValue": v}, st.integers() | st.text(max_size=5) | _json),
        st.builds(lambda v: {"doubleValue": v}, st.floats(allow_nan=False) | _json),
        st.builds(lambda v: {"boolValue": v}, _json),
        _json,
    )
    if depth == 0:
        return leaf
    kid = _any_value(depth - 1)
    return leaf | st.builds(
        lambda vs: {"arrayValue": {"values": vs}}, st.lists(kid, max_size=2) | _json
    )


GENAI = [
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.response.finish_reasons",
    "llmdeck.request_id",
    "llmdeck.route",
]
_attr = st.builds(
    lambda k, v: {"key": k, "value": v}, st.sampled_from(GENAI) | st.text(max_size=8), _any_value()
)
_nanos = st.integers(min_value=-(2**64), max_value=2**64).map(str) | _json
_usage = st.builds(
    lambda k, v: {"key": k, "value": {"intValue": v}},
    st.sampled_from(["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"]),
    (st.sampled_from([2**63, 2**64, -3]) | st.integers(min_value=-(2**70), max_value=2**70)).map(
        str
    ),
)
_span = st.fixed_dictionaries(
    {"attributes": st.lists(_attr | _usage, max_size=5) | _json},
    optional={
        "spanId": st.sampled_from(["a1", "b2", "c3"]) | _json,
        "parentSpanId": st.sampled_from(["a1", "b2", "c3"]) | _json,
        "traceId": st.text(max_size=6) | _json,
        "startTimeUnixNano": _nanos,
        "endTimeUnixNano": _nanos,
        "status": st.fixed_dictionaries({"code": st.sampled_from([0, 1, 2]) | _json}) | _json,
    },
)
_doc = st.one_of(
    st.builds(
        lambda spans: {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]},
        st.lists(_span, max_size=4),
    ),
    st.fixed_dictionaries({"resourceSpans": _json}),
    _json,
)


@FUZZ
@given(st.lists(_doc.map(_dumps) | st.binary(max_size=60), min_size=1, max_size=3))
def test_fuzz_otlp_documents_parse_and_store(
    tmp_path: Path, store: sqlite3.Connection, docs: list[bytes]
) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b"\n".join(docs))
    items = list(otlp.read(path))
    assert all(isinstance(i, RequestRecord | Problem) for i in items)
    report = _store_all(store, items)
    assert report.added + report.duplicates.count + report.bad == len(items)
