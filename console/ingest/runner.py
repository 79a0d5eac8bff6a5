"""Ingest log sources into the workspace store.

Idempotent and resumable: rows are deduplicated by request id (``INSERT OR
IGNORE``) and each source's byte offset (or, for LiteLLM, the end of the last
window read) is written to ``ingest_progress`` in the same transaction as the
rows it covers, so an interrupted run resumes where it stopped, loses nothing
and adds nothing twice. Malformed input is counted and reported by reason
with the first line numbers; the rest is ingested.
"""

from __future__ import annotations

import glob
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from connectors.logsources.mapping import BadRecord, Problem, check_record
from connectors.records import RequestRecord
from connectors.support.redact import redact_url, remember
from connectors.workspace.store import (
    UnstorableRecord,
    from_ms,
    insert_row_probe,
    insert_rows,
    record_row,
    ts_ms,
)
from console.core import clock
from console.core.errors import LlmdeckError

BATCH = 5000
FIRST_LINES = 5  # line numbers kept per reason
WHOLE_FILE = -1  # progress offset of a source read whole (OTLP): done unless it changed


@dataclass(frozen=True, slots=True)
class Source:
    """One thing to read: a file (``jsonl``/``otlp``) or a LiteLLM proxy URL."""

    key: str
    kind: str
    path: Path | None = None
    url: str = ""


@dataclass
class ProblemGroup:
    count: int = 0
    first: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class IngestReport:
    """What a run did: records read, added, duplicates, problems by reason."""

    sources: int = 0
    records: int = 0
    added: int = 0
    duplicates: ProblemGroup = field(default_factory=ProblemGroup)
    problems: dict[str, ProblemGroup] = field(default_factory=dict)
    bytes_done: int = 0
    bytes_total: int = 0

    @property
    def bad(self) -> int:
        return sum(g.count for g in self.problems.values())

    def problem(self, p: Problem) -> None:
        group = self.problems.setdefault(p.reason, ProblemGroup())
        group.count += 1
        if len(group.first) < FIRST_LINES:
            group.first.append((p.source, p.line))

    def duplicate(self, source: str, line: int) -> None:
        self.duplicates.count += 1
        if len(self.duplicates.first) < FIRST_LINES:
            self.duplicates.first.append((source, line))

    def summary(self) -> list[str]:
        """The report as lines for a terminal."""
        out = [
            f"{self.added:,} added, {self.duplicates.count:,} duplicate(s) skipped, "
            f"{self.bad:,} malformed, from {self.records + self.bad:,} inputs in "
            f"{self.sources} source(s)"
        ]
        if self.duplicates.count:
            out.append(
                f"  duplicate request id: {self.duplicates.count:,} "
                f"(first at {_where(self.duplicates.first)})"
            )
        for reason, g in sorted(self.problems.items(), key=lambda kv: -kv[1].count):
            out.append(f"  {reason}: {g.count:,} (first at {_where(g.first)})")
        return out

    def to_dict(self) -> dict[str, Any]:
        def group(g: ProblemGroup) -> dict[str, Any]:
            return {"count": g.count, "first": [{"source": s, "line": n} for s, n in g.first]}

        return {
            "sources": self.sources,
            "records": self.records,
            "added": self.added,
            "duplicates": group(self.duplicates),
            "malformed": self.bad,
            "problems": {r: group(g) for r, g in self.problems.items()},
        }


def _where(first: list[tuple[str, int]]) -> str:
    parts = []
    for source, line in first:
        name = Path(source).name if "://" not in source else source
        parts.append(f"{name}:{line}" if line else name)
    return ", ".join(parts)


def expand(specs: Iterable[str], fmt: str = "auto") -> tuple[list[Source], list[Problem]]:
    """Sources named by paths, globs or ``litellm:URL``; unmatched names as problems."""
    from connectors.logsources.files import head

    sources: list[Source] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.startswith("litellm:"):
            url = spec[len("litellm:") :]
            # The key is stored (ingest_progress) and shown (the report): it names
            # the redacted URL, never the userinfo or query credentials it may carry.
            remember(url)
            sources.append(Source(f"litellm:{redact_url(url)}", "litellm", url=url))
            continue
        pattern = str(Path(spec).expanduser())
        matches = sorted(glob.glob(pattern)) if glob.has_magic(spec) else [pattern]  # noqa: PTH207
        if not matches or not all(os.path.lexists(p) for p in matches):
            problems.append(Problem(spec, 0, "no such file"))
            continue
        for name in matches:
            path = Path(name).resolve()
            if str(path) in seen or path.is_dir():
                continue
            seen.add(str(path))
            kind = fmt
            if kind == "auto":
                kind = "otlp" if b'"resourceSpans"' in head(path) else "jsonl"
            sources.append(Source(f"file:{path}", kind, path=path))
    return sources, problems


class _Batch:
    """Rows waiting for one transaction, with where they came from."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[Any, ...]] = {}
        self.where: dict[str, tuple[str, int]] = {}
        self.progress: dict[str, tuple[int, int, float]] = {}
        self.started = 0.0

    def __len__(self) -> int:
        return len(self.rows)


class Ingester:
    """Feeds records into the store in batches, with dedup and progress."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        report: IngestReport,
        on_progress: Callable[[IngestReport], None] | None = None,
        batch: int = BATCH,
    ) -> None:
        self.conn = conn
        self.report = report
        self.on_progress = on_progress
        self.batch_size = batch
        self.batch = _Batch()
        self._lock = threading.Lock()

    def add(self, source: str, line: int, item: RequestRecord | Problem) -> None:
        with self._lock:
            if isinstance(item, Problem):
                self.report.problem(item)
                return
            # Checked here, once for every source: a record that is garbage
            # or that SQLite cannot hold is reported and skipped, so it can
            # never fail the batch its good neighbours are written in.
            try:
                check_record(item)
                row = record_row(item)
            except (BadRecord, UnstorableRecord) as exc:
                self.report.problem(Problem(source, line, str(exc)))
                return
            self.report.records += 1
            if not self.batch:
                self.batch.started = time.monotonic()
            if item.request_id in self.batch.rows:
                self.report.duplicate(source, line)
                return
            self.batch.rows[item.request_id] = row
            self.batch.where[item.request_id] = (source, line)
            if len(self.batch) >= self.batch_size:
                self._flush()

    def mark(self, key: str, offset: int, size: int = 0, mtime: float = 0.0) -> None:
        """Remember how far ``key`` has been read; written with the next flush."""
        with self._lock:
            self.batch.progress[key] = (offset, size, mtime)

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        b, self.batch = self.batch, _Batch()
        if not b.rows and not b.progress:
            return
        ids = orjson.dumps(list(b.rows)).decode()
        stored = {
            r[0]
            for r in self.conn.execute(
                "SELECT request_id FROM requests WHERE request_id IN "
                "(SELECT value FROM json_each(?))",
                (ids,),
            )
        }
        for rid in stored:
            if rid in b.where:
                self.report.duplicate(*b.where[rid])
        rows = [row for rid, row in b.rows.items() if rid not in stored]
        now = ts_ms(clock.now())
        try:
            self._write(b, rows, now)
        except (OverflowError, ValueError, sqlite3.InterfaceError, sqlite3.DataError):
            # A row the checks above did not foresee: find it, report it and
            # write the rest, so a retry does not fail on it again for ever.
            self.conn.rollback()
            good = []
            for rid, row in b.rows.items():
                if rid in stored:
                    continue
                why = insert_row_probe(self.conn, row)
                if why:
                    self.report.records -= 1
                    self.report.problem(Problem(*b.where[rid], f"cannot be stored ({why})"))
                else:
                    good.append(row)
            self._write(b, good, now)
        if self.on_progress:
            self.on_progress(self.report)

    def _write(self, b: _Batch, rows: list[tuple[Any, ...]], now: int) -> None:
        try:
            # Progress first: the implicit transaction it opens is the one
            # insert_rows commits, so offsets never run ahead of the rows.
            self.conn.executemany(
                "INSERT INTO ingest_progress (source, offset, size, mtime, updated) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
                "offset = excluded.offset, size = excluded.size, mtime = excluded.mtime, "
                "updated = excluded.updated",
                [(k, o, s, m, now) for k, (o, s, m) in b.progress.items()],
            )
            self.report.added += insert_rows(self.conn, rows)
            self.conn.commit()
        except (OverflowError, ValueError, sqlite3.InterfaceError, sqlite3.DataError):
            self.conn.rollback()  # a row's value, not the store: _flush singles it out
            raise
        except sqlite3.Error as exc:
            self.conn.rollback()
            raise LlmdeckError(f"workspace store: cannot write ({exc})") from None
        except BaseException:
            self.conn.rollback()  # interrupted: neither rows nor progress of this batch
            raise


def _resume_at(conn: sqlite3.Connection, src: Source, size: int, mtime: float) -> int | None:
    """Where to start reading ``src``: an offset, or None when there is nothing new."""
    row = conn.execute(
        "SELECT offset, size, mtime FROM ingest_progress WHERE source = ?", (src.key,)
    ).fetchone()
    if row is None:
        return 0
    offset, old_size, old_mtime = row
    if offset == WHOLE_FILE or src.kind == "otlp" or (src.path and src.path.suffix == ".gz"):
        unchanged = old_size == size and abs((old_mtime or 0) - mtime) < 1e-6
        if offset == WHOLE_FILE:
            return None if unchanged else 0
        return int(offset) if unchanged else 0
    return int(offset) if offset <= size else 0  # shrank: truncated or rotated


def ingest(
    conn: sqlite3.Connection,
    sources: list[Source],
    *,
    report: IngestReport | None = None,
    follow: bool = False,
    stop: threading.Event | None = None,
    on_progress: Callable[[IngestReport], None] | None = None,
    litellm_key: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = BATCH,
) -> IngestReport:
    """Read every source into the store; returns the report.

    With ``follow`` JSONL files are then tailed (surviving rotation) until
    ``stop`` is set. Raises LlmdeckError when the store cannot be written or
    a LiteLLM proxy cannot be read; bad input never raises.
    """
    report = report or IngestReport()
    stop = stop or threading.Event()
    report.sources += len(sources)
    ing = Ingester(conn, report, on_progress, batch)
    for src in sources:
        if src.path is not None:
            report.bytes_total += _safe_stat(src.path)[0]
    followers: list[threading.Thread] = []
    for src in sources:
        if stop.is_set():
            break
        if src.kind == "litellm":
            _litellm(ing, src, litellm_key, since, until)
        elif src.kind == "otlp":
            _otlp(ing, src)
        elif follow and src.path is not None and src.path.suffix != ".gz":
            t = threading.Thread(target=_jsonl, args=(ing, src, True, stop), daemon=True)
            t.start()
            followers.append(t)
        else:
            _jsonl(ing, src, False, stop)
        ing.flush()
    while followers and not stop.is_set():
        stop.wait(0.5)
        ing.flush()
    for t in followers:
        t.join(timeout=5)
    ing.flush()
    return report


def _stat(path: Path) -> tuple[int, float]:
    st = path.stat()
    return st.st_size, st.st_mtime


def _jsonl(ing: Ingester, src: Source, follow: bool, stop: threading.Event) -> None:
    from connectors.logsources import jsonl

    assert src.path is not None
    source = str(src.path)
    try:
        size, mtime = _stat(src.path)
        with ing._lock:
            start = _resume_at(ing.conn, src, size, mtime)
        if start is None:
            return
        last = start
        for line, end, item in jsonl.read(src.path, start, follow=follow, stop=stop.is_set):
            if end >= 0:
                # Marked before the line is added, so a flush the line triggers
                # writes the offset just past it together with its row.
                ing.report.bytes_done += end - last if end > last else 0
                last = end
                ing.mark(src.key, end, size, mtime)
            ing.add(source, line, item)
    except OSError as exc:
        ing.add(source, 0, Problem(source, 0, f"cannot read file: {exc.strerror or exc}"))


def _safe_stat(path: Path) -> tuple[int, float]:
    try:
        return _stat(path)
    except OSError:
        return 0, 0.0


def _otlp(ing: Ingester, src: Source) -> None:
    from connectors.logsources import otlp

    assert src.path is not None
    source = str(src.path)
    try:
        size, mtime = _stat(src.path)
        if _resume_at(ing.conn, src, size, mtime) is None:
            return
        for item in otlp.read(src.path):
            ing.add(source, item.line if isinstance(item, Problem) else 0, item)
        ing.report.bytes_done += size
        ing.mark(src.key, WHOLE_FILE, size, mtime)
    except OSError as exc:
        ing.add(source, 0, Problem(source, 0, f"cannot read file: {exc.strerror or exc}"))


def _litellm(
    ing: Ingester, src: Source, key: str, since: datetime | None, until: datetime | None
) -> None:
    from datetime import timedelta

    from connectors.errors import ConnectorError
    from connectors.logsources.litellm import LiteLLMSpendLogs

    end = until or clock.now()
    start = since or end - timedelta(days=1)
    row = ing.conn.execute(
        "SELECT offset FROM ingest_progress WHERE source = ?", (src.key,)
    ).fetchone()
    if row and row[0] > ts_ms(start):
        start = from_ms(row[0])
    logs = LiteLLMSpendLogs(src.url, key)
    try:
        for window_start, item in logs.read(start, end):
            # Everything before the window being read is in: resume from there.
            ing.mark(src.key, ts_ms(window_start))
            ing.add(redact_url(src.url), item.line if isinstance(item, Problem) else 0, item)
        ing.mark(src.key, ts_ms(end))
    except ConnectorError:
        ing.flush()  # what was read before the failure is kept; resume starts there
        raise
    finally:
        logs.close()
