"""``llmdeck ingest``: bad input reported with line numbers and the rest kept,
idempotent, resumable after an interruption, and follow mode."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import orjson
import pytest

from connectors.logsources.files import MAX_LINE
from connectors.workspace.schema import connect
from console.ingest import runner as ingest_mod
from console.ingest.runner import IngestReport, expand, ingest

FIXTURES = Path(__file__).parent.parent / "fixtures"


def rec(i: int, **extra: object) -> bytes:
    base = {
        "request_id": f"r-{i:05d}",
        "ts": 1795953540000 + i * 1000,
        "route": "/support/chat",
        "tenant": f"tenant-{i % 3}",
        "model_name": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"question number {i}"}],
        "output": f"answer {i}",
    }
    base.update(extra)
    return orjson.dumps(base) + b"\n"


@pytest.fixture
def store(tmp_path: Path) -> sqlite3.Connection:
    conn = connect(tmp_path / "store.db")
    yield conn
    conn.close()


def run(conn: sqlite3.Connection, *specs: str, **kw: object) -> IngestReport:
    sources, missing = expand(specs)
    report = IngestReport()
    for p in missing:
        report.problem(p)
    return ingest(conn, sources, report=report, **kw)  # type: ignore[arg-type]


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


def test_bad_input_is_reported_and_the_rest_ingested(
    tmp_path: Path, store: sqlite3.Connection
) -> None:
    good = tmp_path / "mixed.jsonl"
    with open(good, "wb") as fh:
        fh.write(rec(1))  # line 1
        fh.write(b"{not json\n")  # 2
        fh.write(rec(2, tokens_in="many"))  # 3: wrong type
        fh.write(b'{"ts": "2026-11-29T10:00:00Z"}\n')  # 4: missing id
        fh.write(b"\x00\x01\xff\xfebinary garbage\n")  # 5
        fh.write(rec(3))  # 6
        fh.write(b'{"pad": "' + b"z" * (MAX_LINE + 1) + b'"}\n')  # 7: over 10 MB
        fh.write(rec(1))  # 8: duplicate id
        fh.write(b"\n")  # 9: blank, ignored
        fh.write(rec(4))  # 10
    body = b"".join(rec(i) for i in range(100, 400))
    gz = gzip.compress(body)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gz[: len(gz) * 2 // 3])
    broken = tmp_path / "gone.jsonl"
    broken.symlink_to(tmp_path / "does-not-exist.jsonl")  # unreadable
    report = run(store, str(good), str(cut), str(broken), str(tmp_path / "nothing-*.jsonl"))

    groups = {reason: [line for _, line in g.first] for reason, g in report.problems.items()}
    assert groups["not valid JSON"] == [2]
    assert groups["tokens_in: expected an integer, got a string"] == [3]
    assert groups["request_id: missing"] == [4]
    assert groups["not UTF-8 text (binary data?)"] == [5]
    assert groups["line longer than 10 MB"] == [7]
    assert groups["cannot read file: No such file or directory"] == [0]
    assert groups["no such file"] == [0]
    truncated = [r for r in groups if r.startswith("truncated gzip")]
    assert len(truncated) == 1
    assert report.duplicates.count == 1 and report.duplicates.first[0][1] == 8
    kept_from_gz = count(store) - 3  # r-00001, r-00003, r-00004 from mixed.jsonl
    assert 0 < kept_from_gz < 300  # what came before the cut is kept
    assert groups[truncated[0]] == [kept_from_gz + 1]
    ids = {r[0] for r in store.execute("SELECT request_id FROM requests")}
    assert {"r-00001", "r-00003", "r-00004"} <= ids and "r-00002" not in ids
    summary = "\n".join(report.summary())
    assert (
        "mixed.jsonl:2" in summary and "duplicate request id: 1 (first at mixed.jsonl:8)" in summary
    )


def test_raw_tenants_hashed_before_storage(tmp_path: Path, store: sqlite3.Connection) -> None:
    run(store, str(FIXTURES / "jsonl" / "seed.jsonl"))
    tenants = {r[0] for r in store.execute("SELECT tenant FROM requests")}
    users = {r[0] for r in store.execute("SELECT user FROM requests")}
    assert all(t.startswith("t-") for t in tenants) and "acme" not in tenants
    assert all(u == "" or u.startswith("u-") for u in users)
    raw = (tmp_path / "store.db").read_bytes()
    assert b"alice@acme.example" not in raw and b'"acme"' not in raw


def test_idempotent_and_existing_rows_untouched(tmp_path: Path, store: sqlite3.Connection) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(rec(i) for i in range(50)))
    first = run(store, str(path))
    assert first.added == 50
    again = run(store, str(path))
    assert (again.added, again.records) == (0, 0)  # resumed at the end: nothing re-read
    copy = tmp_path / "b.jsonl"  # the same records under another name: all duplicates
    shutil.copy(path, copy)
    dup = run(store, str(copy))
    assert (dup.added, dup.duplicates.count) == (0, 50)
    assert count(store) == 50
    fts = store.execute(
        "SELECT COUNT(*) FROM requests_fts WHERE requests_fts MATCH 'question'"
    ).fetchone()[0]
    assert fts == 50  # the full-text index has each row once
    rollup = store.execute("SELECT SUM(n) FROM rollup_minute").fetchone()[0]
    assert rollup == 50


def test_interrupted_run_resumes_and_loses_nothing(
    tmp_path: Path, store: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(rec(i) for i in range(100)))
    real = ingest_mod.insert_rows
    calls = {"n": 0}

    def dying(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> int:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # the operator pressed ctrl+c mid-batch
        return real(conn, rows)

    monkeypatch.setattr(ingest_mod, "insert_rows", dying)
    with pytest.raises(KeyboardInterrupt):
        run(store, str(path), batch=10)
    assert count(store) == 30
    offset = store.execute("SELECT offset FROM ingest_progress").fetchone()[0]
    assert offset == len(b"".join(rec(i) for i in range(30)))  # progress matches the rows
    monkeypatch.setattr(ingest_mod, "insert_rows", real)
    resumed = run(store, str(path), batch=10)
    assert (resumed.added, resumed.duplicates.count) == (70, 0)
    assert count(store) == 100


def test_follow_mode_ingests_appended_and_rotated_lines(
    tmp_path: Path, store: sqlite3.Connection
) -> None:
    path = tmp_path / "live.jsonl"
    path.write_bytes(rec(1))
    stop = threading.Event()
    sources, _ = expand([str(path)])
    report = IngestReport()
    db = tmp_path / "store.db"
    t = threading.Thread(
        target=ingest,
        args=(store, sources),
        kwargs={"report": report, "follow": True, "stop": stop},
    )
    t.start()

    def wait_rows(n: int) -> int:
        reader = sqlite3.connect(db)
        deadline = time.monotonic() + 15
        got = 0
        while time.monotonic() < deadline:
            got = reader.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            if got >= n:
                break
            time.sleep(0.1)
        reader.close()
        return got

    assert wait_rows(1) == 1
    with open(path, "ab") as fh:
        fh.write(rec(2) + rec(3))
    assert wait_rows(3) == 3
    path.rename(tmp_path / "live.jsonl.1")
    path.write_bytes(rec(4) + b"oops\n")
    assert wait_rows(4) == 4
    stop.set()
    t.join(timeout=10)
    assert not t.is_alive()
    assert report.added == 4 and list(report.problems) == ["not valid JSON"]
    assert report.problems["not valid JSON"].first == [(str(path.resolve()), 2)]


def test_otlp_file_ingested_once(store: sqlite3.Connection) -> None:
    fixture = str(FIXTURES / "otlp" / "openai_llama.json")
    first = run(store, fixture)
    assert first.added == 2 and not first.problems
    assert run(store, fixture).records == 0  # unchanged: skipped
    row = store.execute(
        "SELECT model_name, json_extract(params, '$.seed'), prompt_version FROM requests "
        "WHERE request_id = 'otel-req-0001'"
    ).fetchone()
    assert row == ("smollm2-135m", 42, "14")


def test_litellm_source_resumes_by_window(
    store: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``litellm:URL`` through ingest: windows read once, progress per window.
    Recorded shapes as in test_logsources (LiteLLM's /spend/logs/v2 docs)."""
    import httpx

    from connectors.logsources import litellm
    from tests.unit.test_logsources import spend_row

    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        start = request.url.params["start_date"]
        asked.append(start)
        hour = start[11:13]
        rows = [spend_row(int(hour), f"2026-11-29T{hour}:10:00.000Z")]
        return httpx.Response(200, json={"data": rows, "total": 1, "page": 1, "total_pages": 1})

    real = litellm.LiteLLMSpendLogs

    class Recorded(real):  # type: ignore[misc,valid-type]
        def __init__(self, url: str, api_key: str = "", **kw: object) -> None:
            super().__init__(url, api_key, transport=httpx.MockTransport(handler))

    monkeypatch.setattr(litellm, "LiteLLMSpendLogs", Recorded)
    from datetime import UTC, datetime

    since = datetime(2026, 11, 29, 8, tzinfo=UTC)
    until = datetime(2026, 11, 29, 11, tzinfo=UTC)
    report = run(store, "litellm:http://litellm.test", since=since, until=until)
    assert report.added == 3 and asked[0] == "2026-11-29 08:00:00" and len(asked) == 3
    later = datetime(2026, 11, 29, 12, tzinfo=UTC)
    again = run(store, "litellm:http://litellm.test", since=since, until=later)
    assert asked[3:] == ["2026-11-29 11:00:00"] and again.added == 1  # only the new hour
