"""The request-log capability over a workspace store.

Pages use keyset pagination on (order column, rowid): the next page costs the
same as the first, however deep the cursor, and never loads what is not shown.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import orjson

from connectors.base import Page, RequestFilter, RequestLog
from connectors.errors import AmbiguousId, NotFound, QueryError
from connectors.options import Option
from connectors.records import BackendStatus, RequestRecord
from connectors.workspace.connection import PerThreadStore
from connectors.workspace.schema import REQUEST_COLUMNS
from connectors.workspace.store import from_ms, ts_ms

_CANDIDATES = 5  # ids named in an ambiguous-prefix message
_ORDERS = {
    "ts": "ts",
    "latency_ms": "latency_ms",
    "cost_usd": "cost_usd",
    "tokens_out": "tokens_out",
}
_JSON: dict[str, Any] = {
    "params": {},
    "variables": None,
    "messages": [],
    "retrieval": None,
    "tools": [],
    "safety": None,
}
_SELECT = ", ".join(f"r.[{c}]" for c in REQUEST_COLUMNS)


def row_record(row: tuple[Any, ...]) -> RequestRecord:
    """A ``requests`` row (REQUEST_COLUMNS order) as a canonical record."""
    values = dict(zip(REQUEST_COLUMNS, row, strict=True))
    for col, empty in _JSON.items():
        raw = values[col]
        values[col] = orjson.loads(raw) if raw else empty
    values["messages"] = tuple(values["messages"])
    values["tools"] = tuple(values["tools"])
    values["ts"] = from_ms(values["ts"])
    values["refusal"] = bool(values["refusal"])
    for col in (
        "user",
        "tenant",
        "route",
        "environment",
        "prompt_id",
        "prompt_version",
        "model_name",
        "model_digest",
        "provider",
        "finish_reason",
        "system_fingerprint",
        "flag_variant",
        "trace_id",
        "prompt_hash",
        "output_hash",
    ):
        values[col] = values[col] or ""
    values["tokens_in"] = values["tokens_in"] or 0
    values["tokens_out"] = values["tokens_out"] or 0
    values["cost_usd"] = values["cost_usd"] or 0.0
    values["latency_ms"] = values["latency_ms"] or 0.0
    values["status"] = values["status"] or "ok"
    return RequestRecord(**values)


def where_clause(flt: RequestFilter) -> tuple[list[str], list[Any]]:
    """SQL conditions (on alias ``r``) and parameters for a filter."""
    conds: list[str] = []
    params: list[Any] = []
    if flt.since:
        conds.append("r.ts >= ?")
        params.append(ts_ms(flt.since))
    if flt.until:
        conds.append("r.ts < ?")
        params.append(ts_ms(flt.until))
    for col, value in (
        ("route", flt.route),
        ("tenant", flt.tenant),
        ("model_name", flt.model),
        ("prompt_id", flt.prompt_id),
        ("prompt_version", flt.prompt_version),
        ("status", flt.status),
    ):
        if value:
            conds.append(f"r.{col} = ?")
            params.append(value)
    if flt.refusal is not None:
        conds.append("r.refusal = ?")
        params.append(int(flt.refusal))
    if flt.blocked is not None:
        conds.append("r.status = 'blocked'" if flt.blocked else "r.status != 'blocked'")
    if flt.text:
        conds.append("r.rowid IN (SELECT rowid FROM requests_fts WHERE requests_fts MATCH ?)")
        params.append(flt.text)
    return conds, params


class WorkspaceRequestLog(PerThreadStore, RequestLog):
    """Logged requests in a workspace store (``store.db``)."""

    kind = "workspace"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "search"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("path", Path, None, "store.db (default: the profile's workspace)"),
    )

    def __init__(self, *, path: str | Path) -> None:
        PerThreadStore.__init__(self, path)

    def ping(self) -> BackendStatus:
        try:
            row = self._conn().execute("SELECT MAX(rowid) FROM requests").fetchone()
        except Exception as exc:
            return BackendStatus(ok=False, detail=str(exc))
        return BackendStatus(
            ok=True,
            version="sqlite " + sqlite3.sqlite_version,
            detail=f"about {row[0] or 0} requests",
        )

    def _query(
        self, flt: RequestFilter, limit: int, cursor: str | None
    ) -> tuple[str, list[Any], str]:
        """The page's SQL, its parameters and the order column.

        Keyset on (order column, rowid): the composite (dimension, ts) indexes
        end in rowid, so "newest 50 of route X after this cursor" is one
        index range read in order, however deep the cursor.
        """
        col = _ORDERS.get(flt.order)
        if col is None:
            raise QueryError(f"cannot sort by {flt.order!r} (known: {', '.join(_ORDERS)})")
        conds, params = where_clause(flt)
        if cursor:
            value, _, rowid = cursor.partition(":")
            try:
                key: float | int = int(value) if col == "ts" else float(value)
                params += [key, key, int(rowid)]
            except ValueError:
                raise QueryError(f"bad page cursor {cursor!r}") from None
            # "col <= v" bounds the index range; the rest breaks ties by rowid.
            conds.append(f"r.{col} <= ? AND (r.{col} < ? OR r.rowid < ?)")
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = (
            f"SELECT {_SELECT}, r.rowid FROM requests r {where} "
            f"ORDER BY r.{col} DESC, r.rowid DESC LIMIT ?"
        )
        return sql, [*params, limit + 1], col

    def explain(self, flt: RequestFilter, cursor: str | None = None) -> str:
        """SQLite's query plan for a page, one step a line (for tests and benches)."""
        if flt.text and flt.order == "ts":
            return "FTS5 matches walked by rowid, newest first, in chunks"
        sql, params, _ = self._query(flt, 50, cursor)
        rows = self._conn().execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return "\n".join(str(r[-1]) for r in rows)

    def page(self, flt: RequestFilter, limit: int = 50, cursor: str | None = None) -> Page:
        """Newest (or largest) first. A full-text search in time order walks the
        matches newest-ingested first (rowid order, which is time order for
        logs appended as they are written), so it never sorts every match."""
        if flt.text and flt.order == "ts":
            return self._text_page(flt, limit, cursor)
        sql, params, col = self._query(flt, limit, cursor)
        try:
            rows = self._conn().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise QueryError(f"request query failed: {exc}") from None
        more = len(rows) > limit
        rows = rows[:limit]
        records = tuple(row_record(r[:-1]) for r in rows)
        next_cursor = None
        if more and rows:
            last = rows[-1]
            next_cursor = f"{last[REQUEST_COLUMNS.index(col)]}:{last[-1]}"
        return Page(records=records, next_cursor=next_cursor)

    def _text_page(self, flt: RequestFilter, limit: int, cursor: str | None) -> Page:
        conds, params = where_clause(replace(flt, text=""))
        where = "".join(f" AND {c}" for c in conds)
        sql = (
            f"SELECT {_SELECT}, r.rowid FROM requests r WHERE r.rowid IN "
            f"(SELECT value FROM json_each(?)){where} ORDER BY r.rowid DESC"
        )
        try:
            upper = int(cursor.rpartition(":")[2]) if cursor else None
        except ValueError:
            raise QueryError(f"bad page cursor {cursor!r}") from None
        conn = self._conn()
        rows: list[Any] = []
        chunk = 500
        try:
            while len(rows) <= limit:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT rowid FROM requests_fts WHERE requests_fts MATCH ? AND rowid < ? "
                        "ORDER BY rowid DESC LIMIT ?",
                        (flt.text, upper if upper is not None else 1 << 62, chunk),
                    )
                ]
                if not ids:
                    break
                rows += conn.execute(sql, (orjson.dumps(ids).decode(), *params)).fetchall()
                upper = ids[-1]
                chunk = min(chunk * 4, 50_000)  # rare matches: take bigger bites
        except sqlite3.OperationalError as exc:
            raise QueryError(f"request query failed: {exc}") from None
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = f"{rows[-1][1]}:{rows[-1][-1]}" if more and rows else None
        return Page(tuple(row_record(r[:-1]) for r in rows), next_cursor)

    def get(self, request_id: str) -> RequestRecord:
        """One request by its id or, like git, by any unique prefix of it.

        Raises NotFound when nothing matches and AmbiguousId (a NotFound) when
        the prefix matches several requests, naming a few of them.
        """
        conn = self._conn()
        sql = f"SELECT {_SELECT} FROM requests r WHERE r.request_id = ?"
        row = conn.execute(sql, (request_id,)).fetchone()
        if row is not None:
            return row_record(row)
        if request_id:
            # A range on the primary key, not LIKE (which would scan 240k rows and
            # treat _ in "req_" as a wildcard).
            ids = [
                str(r[0])
                for r in conn.execute(
                    "SELECT request_id FROM requests WHERE request_id > ? AND request_id < ? "
                    "ORDER BY request_id LIMIT ?",
                    (request_id, request_id + "\U0010ffff", _CANDIDATES + 1),
                )
            ]
            if len(ids) == 1:
                return self.get(ids[0])
            if ids:
                more = ", …" if len(ids) > _CANDIDATES else ""
                raise AmbiguousId(
                    f"request id prefix {request_id!r} is ambiguous: "
                    f"{', '.join(ids[:_CANDIDATES])}{more}",
                    tuple(ids[:_CANDIDATES]),
                )
        raise NotFound(f"request {request_id!r} is not in the workspace")
