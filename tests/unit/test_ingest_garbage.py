"""Issue 14, defects 1 and 11: a record SQLite cannot hold, or garbage
(negative counts, spans ending before they start, NUL in text, year 9999),
is reported by reason with its line and skipped; the good records of the
same batch land, and a second run neither fails nor loops on them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from connectors.records import RequestRecord
from connectors.workspace.schema import connect
from connectors.workspace.store import record_row
from console.ingest.runner import Ingester, IngestReport, expand, ingest

TS = 1795953540000  # 2026-12-01, milliseconds


def rec(i: int, **extra: object) -> bytes:
    base: dict[str, object] = {"request_id": f"r-{i}", "ts": TS + i * 1000, "route": "/x"}
    base.update(extra)
    return orjson.dumps(base) + b"\n"


def deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"{}" + b"}" * levels


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "store.db")
    yield conn
    conn.close()


def run(conn: sqlite3.Connection, path: Path) -> IngestReport:
    sources, _ = expand([str(path)])
    return ingest(conn, sources)


def ids(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT request_id FROM requests ORDER BY request_id")]


def test_unstorable_values_are_reported_and_the_batch_lands(
    tmp_path: Path, store: sqlite3.Connection
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        rec(1)  # line 1
        + rec(2, tokens_in=1e300)  # 2: a float that is an integer nobody can store
        + b'{"request_id":"r-3","ts":1795953540000,"tokens_out":9223372036854775808}\n'  # 3
        + b'{"request_id":"r-4","ts":1795953540000,"params":'
        + deep(300)
        + b"}\n"  # 4
        + rec(5, request_id="r-1\x00tail")  # 5: NUL; json_each would cut it to "r-1"
        + rec(6)  # 6
    )
    report = run(store, path)
    groups = {reason: [n for _, n in g.first] for reason, g in report.problems.items()}
    assert groups == {
        "tokens_in: too large to store": [2],
        "tokens_out: too large to store": [3],
        "params: nested too deep": [4],
        "request_id: contains a NUL character": [5],
    }
    assert ids(store) == ["r-1", "r-6"]
    assert report.added == 2 and report.duplicates.count == 0
    # A retry reads nothing new and does not fail on the bad lines again.
    again = run(store, path)
    assert again.bad == 0 and again.added == 0
    assert ids(store) == ["r-1", "r-6"]


def test_a_row_the_checks_miss_is_singled_out_not_the_batch(
    store: sqlite3.Connection,
) -> None:
    # A lone surrogate passes the record checks (LiteLLM's JSON decoder
    # accepts it) but SQLite cannot encode it: only that row must be lost.
    ts = datetime(2026, 12, 1, tzinfo=UTC)
    report = IngestReport()
    ing = Ingester(store, report, batch=100)
    ing.add("src", 1, RequestRecord(request_id="a", ts=ts))
    ing.add("src", 2, RequestRecord(request_id="b", ts=ts, route="\ud800"))
    ing.add("src", 3, RequestRecord(request_id="c", ts=ts))
    ing.flush()
    assert ids(store) == ["a", "c"]
    assert report.added == 2 and report.records == 2
    [(reason, group)] = report.problems.items()
    assert reason.startswith("cannot be stored") and group.first == [("src", 2)]


def test_garbage_values_rejected_by_reason(tmp_path: Path, store: sqlite3.Connection) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(
        rec(1, tokens_in=-5)
        + rec(2, cost_usd=-0.5)
        + rec(3, latency_ms=-1)
        + rec(4, ts="9999-12-31T23:59:59Z")
        + rec(5, ts=0)  # 1970: a clock that was never set
        + rec(6, output="before\x00after")
        + rec(7, ttft_ms=-3)
        + rec(8, tokens_out=12, cost_usd=0.01, latency_ms=900)
    )
    report = run(store, path)
    assert {r: [n for _, n in g.first] for r, g in report.problems.items()} == {
        "tokens_in: negative": [1],
        "cost_usd: negative": [2],
        "latency_ms: negative": [3],
        "ts: year outside 2000-2099": [4, 5],
        "output: contains a NUL character": [6],
        "ttft_ms: negative": [7],
    }
    assert ids(store) == ["r-8"]
    assert "tokens_in: negative: 1 (first at garbage.jsonl:1)" in "\n".join(report.summary())


def test_otlp_span_ending_before_it_starts_is_rejected(
    tmp_path: Path, store: sqlite3.Connection
) -> None:
    def span(sid: str, start: int, end: int) -> dict[str, object]:
        return {
            "traceId": "ab" * 16,
            "spanId": sid,
            "name": "chat m",
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(end),
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
            ],
        }

    t0 = TS * 1_000_000
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {"spans": [span("01" * 8, t0, t0 + 5_000_000), span("02" * 8, t0, t0 - 1)]}
                ]
            }
        ]
    }
    path = tmp_path / "spans.json"
    path.write_bytes(orjson.dumps(doc))
    report = run(store, path)
    assert list(report.problems) == [f"span {'02' * 8}: span ends before it starts"]
    assert report.added == 1


def test_record_row_refuses_what_sqlite_cannot_hold() -> None:
    ts = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="tokens_in: integer too large"):
        record_row(RequestRecord(request_id="x", ts=ts, tokens_in=2**63))
    nested: dict[str, object] = {}
    for _ in range(300):
        nested = {"a": nested}
    with pytest.raises(ValueError, match="params: nested too deep"):
        record_row(RequestRecord(request_id="x", ts=ts, params=nested))


def test_truncated_gzip_otlp_is_a_problem_not_a_crash(
    tmp_path: Path, store: sqlite3.Connection
) -> None:
    # Found by tests/test_parser_fuzz.py: EOFError escaped otlp.read.
    import gzip

    path = tmp_path / "spans.json.gz"
    whole = gzip.compress(b'{"resourceSpans": []}' * 50)
    path.write_bytes(whole[: len(whole) // 2])
    report = ingest(store, expand([str(path)], "otlp")[0])
    assert [(r, g.first) for r, g in report.problems.items()] == [
        (
            "truncated gzip: the file ends before the end of its compressed stream",
            [(str(path), 0)],
        )
    ]


def test_nul_inside_nested_json_is_reported_and_skipped(
    tmp_path: Path, store: sqlite3.Connection
) -> None:
    # A NUL deep in message content or params would be stored escaped, not as
    # sent: reported by field and skipped like a NUL in a top-level string.
    path = tmp_path / "nul.jsonl"
    path.write_bytes(
        rec(1)
        + rec(2, messages=[{"role": "user", "content": [{"type": "text", "text": "a\x00b"}]}])
        + rec(3, params={"stop": ["x", "\x00"]})
        + rec(4, params={"k\x00": 1})  # in a key too
        + rec(5, messages=[{"role": "user", "content": "no nul, only the text \\u0000"}])
    )
    report = run(store, path)
    groups = {reason: [n for _, n in g.first] for reason, g in report.problems.items()}
    assert groups == {
        "messages: contains a NUL character": [2],
        "params: contains a NUL character": [3, 4],
    }
    assert ids(store) == ["r-1", "r-5"]
    stored = store.execute("SELECT messages FROM requests WHERE request_id = 'r-5'").fetchone()
    assert "\\\\u0000" in stored[0]  # the literal backslash text is kept as sent
