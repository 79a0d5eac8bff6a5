"""Requests: browse logged requests, a page at a time.

The table holds only the pages read so far; the next page is read (keyset
pagination, as cheap as the first) when the cursor nears the last row. Keys
narrow the filter (time range, refusals, blocked, status, sort) and ``/``
opens the quick filter (``route:/x tenant:acme v:14 refusal words...``).
Other screens open this one filtered with ``navigation.open_requests(app, flt)``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from connectors.base import Page, RequestFilter
from connectors.records import RequestRecord
from console.core.spans import DEFAULT_RANGE, RANGES
from console.core.tenants import names as tenant_names
from screens import navigation, request_actions
from screens.base import DeckScreen
from screens.poller import describe as describe_error

PAGE = 100
PREFETCH = 20  # rows before the end at which the next page is read
RANGE_NAMES = ("all", *RANGES)
SORTS = ("ts", "latency_ms", "cost_usd", "tokens_out")
SORT_LABELS = {"ts": "time", "latency_ms": "latency", "cost_usd": "cost", "tokens_out": "tokens"}
STATUS_CYCLE = ("", "error", "blocked", "timeout", "ok")
# The id comes second and whole (25 characters): last, it was cut at the screen's
# edge without an ellipsis, and the cut id was then "not in the workspace".
COLUMNS = (
    "time",
    "request id",
    "route",
    "model",
    "ver",
    "tenant",
    "status",
    "latency",
    "in",
    "out",
    "cost $",
    "flags",
)
_STATUS_STYLE = {"error": "bold red", "timeout": "red", "blocked": "bold yellow"}


def row_cells(rec: RequestRecord, tenants: dict[str, str] | None = None) -> tuple[Any, ...]:
    flags = " ".join(
        f
        for f, on in (
            ("refusal", rec.refusal),
            ("hash-only", not rec.has_content),
            ("tools", any(m.get("tool_calls") for m in rec.messages)),
        )
        if on
    )
    return (
        f"{rec.ts:%m-%d %H:%M:%S}",
        rec.request_id,
        rec.route,
        rec.model_name,
        f"v{rec.prompt_version}" if rec.prompt_version else "",
        (tenants or {}).get(rec.tenant, rec.tenant),
        Text(rec.status, style=_STATUS_STYLE.get(rec.status, "")),
        Text(f"{rec.latency_ms:,.0f}ms", justify="right"),
        Text(f"{rec.tokens_in:,}", justify="right"),
        Text(f"{rec.tokens_out:,}", justify="right"),
        Text(f"{rec.cost_usd:.5f}", justify="right"),
        Text(flags, style="yellow" if rec.refusal else "dim"),
    )


def copy_request_id(screen: Any, rec: RequestRecord) -> None:
    """The ``y`` action: the whole id to the clipboard (OSC 52, so it works over
    SSH too), and shown whole in the notification for terminals without it."""
    screen.app.copy_to_clipboard(rec.request_id)
    screen.notify(rec.request_id, title="request id copied")


class RequestsScreen(DeckScreen):
    """The request table, its filter line and the quick filter."""

    TITLE = "Requests"
    CSS_PATH = "requests.tcss"
    AUTO_FOCUS = "#requests-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "quick_filter", "Filter", key_display="/"),
        Binding("t", "next_range", "Range"),
        Binding("s", "next_sort", "Sort"),
        Binding("f", "cycle_flag('refusal')", "Refusals"),
        Binding("b", "cycle_flag('blocked')", "Blocked"),
        Binding("e", "next_status", "Status"),
        Binding("x", "clear", "Clear"),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("escape", "close_filter", "Close filter", show=False),
        *request_actions.bindings(),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = RequestFilter()
        self.range_name = "all"
        self.records: dict[str, RequestRecord] = {}
        self.next_cursor: str | None = None
        self.loading = False
        self.loaded_once = False
        self._generation = 0
        self.tenants: dict[str, str] = {}  # hash -> display name, read on mount

    def compose_body(self) -> ComposeResult:
        yield Static("", id="requests-filter")
        yield DataTable(id="requests-table", cursor_type="row", zebra_stripes=True)
        yield Input(
            placeholder="id:req_0a1 route:/x tenant:acme model:m v:14 status:error refusal blocked "
            "since:2h sort:latency words to search",
            id="requests-quick",
        )
        yield Static("", id="requests-status")

    def on_mount(self) -> None:
        self.tenants = tenant_names(self.session)
        table: DataTable[Any] = self.query_one(DataTable)
        table.add_columns(*COLUMNS)

    def on_screen_resume(self) -> None:
        if not self.take_pending_filter() and not self.loaded_once:
            self.reload()

    def view_span(self) -> timedelta:
        # "all" and a filter from another screen have no span: step an hour.
        rng = RANGES.get(self.range_name) or RANGES[DEFAULT_RANGE]
        return rng.span

    def view_changed(self) -> None:
        # A range ends at the view time: move it along; any filter stops there.
        flt = self.filter
        if self.range_name in RANGES:
            since = self.session.view.window(RANGES[self.range_name])[0]
            self.filter = replace(flt, since=since, until=None)
        elif flt.since is not None and flt.until is not None:
            # A window another screen opened (the Overview's l): the same length,
            # ending at the view time.
            until = self.session.view.now()
            self.filter = replace(flt, since=until - (flt.until - flt.since), until=until)
        if self.loaded_once:
            self.reload()

    def take_pending_filter(self) -> bool:
        """Apply a filter another screen left on the app; True if there was one."""
        flt = navigation.take_requests_filter(self.app)
        if flt is None:
            return False
        self.range_name = "all" if flt.since is None else "custom"
        self.set_filter(flt)
        return True

    # -- loading ---------------------------------------------------------

    def set_filter(self, flt: RequestFilter) -> None:
        self.filter = flt
        self.reload()

    def reload(self) -> None:
        """Read the first page of the current filter, replacing the table."""
        self._generation += 1
        self.records.clear()
        self.next_cursor = None
        table: DataTable[Any] = self.query_one(DataTable)
        table.clear()
        self._show_filter()
        self._read(None)

    def _read(self, cursor: str | None) -> None:
        log = self.session.request_log()
        if log is None:
            self._status("this profile configures no request log", error=True)
            return
        from console.requests.query import as_of

        self.loading = True
        # Pinned: nothing logged after the pinned moment, whatever the filter says.
        flt, generation = as_of(self.filter, self.session.view.at), self._generation
        self._status("reading…")
        # Not exclusive: a page read for an old filter ends normally and is
        # dropped by its generation, so ``loading`` always comes back down.
        self.load(
            "requests-page",
            lambda: (generation, log.page(flt, limit=PAGE, cursor=cursor)),
            self._page_read,
            self._page_failed,
            exclusive=False,
        )

    def _page_read(self, result: tuple[int, Page]) -> None:
        generation, page = result
        self.loading = False
        if generation == self._generation:
            self._append(page)

    def _page_failed(self, error: BaseException) -> None:
        self.loading = False
        self._status(f"query failed: {describe_error(error)}", error=True)

    def _open_id(self, wanted: str) -> None:
        """Open the request whose id is ``wanted`` or starts with it (like git)."""
        log = self.session.request_log()
        if log is None:
            self._status("this profile configures no request log", error=True)
            return
        self.load(
            "open-id",
            lambda: log.get(wanted),
            lambda record: navigation.open_request(self.app, record),
            lambda error: self._status(describe_error(error), error=True),
        )

    def _append(self, page: Page) -> None:
        table: DataTable[Any] = self.query_one(DataTable)
        for rec in page.records:
            if rec.request_id in self.records:
                continue
            self.records[rec.request_id] = rec
            table.add_row(*row_cells(rec, self.tenants), key=rec.request_id)
        self.next_cursor = page.next_cursor
        self.loaded_once = True
        more = "more below" if self.next_cursor else "end of results"
        if not self.records:
            self._status("no requests match this filter (x clears it)")
        else:
            self._status(f"{len(self.records):,} loaded, {more} · enter opens · / filters")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = event.data_table
        near_end = event.cursor_row >= table.row_count - PREFETCH
        if near_end and self.next_cursor and not self.loading:
            self._read(self.next_cursor)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        rec = self.records.get(str(event.row_key.value))
        if rec is not None:
            navigation.open_request(self.app, rec)

    def selected(self) -> RequestRecord | None:
        """The request under the cursor, if any."""
        table: DataTable[Any] = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.records.get(str(key.value))

    # -- the filter ------------------------------------------------------

    def _show_filter(self) -> None:
        from console.requests.query import describe

        text = describe(replace(self.filter, since=None, order="ts"), self.tenants) or "everything"
        parts = [
            f"filter: {text}",
            f"range: {self.range_name}",
            f"sort: {SORT_LABELS.get(self.filter.order, self.filter.order)}",
        ]
        self.query_one("#requests-filter", Static).update(Text("  ·  ".join(parts)))

    def _status(self, message: str, error: bool = False) -> None:
        status = self.query_one("#requests-status", Static)
        status.set_class(error, "-error")
        status.update(Text(message))

    def action_next_range(self) -> None:
        names = RANGE_NAMES
        i = names.index(self.range_name) if self.range_name in names else 0
        self.range_name = names[(i + 1) % len(names)]
        rng = RANGES.get(self.range_name)
        since = None if rng is None else self.session.view.window(rng)[0]
        self.set_filter(replace(self.filter, since=since, until=None))

    def action_next_sort(self) -> None:
        i = SORTS.index(self.filter.order) if self.filter.order in SORTS else 0
        self.set_filter(replace(self.filter, order=SORTS[(i + 1) % len(SORTS)]))

    def action_cycle_flag(self, what: str) -> None:
        """Refusals or blocked: only those, then none of those, then all."""
        nxt = {None: True, True: False, False: None}
        if what == "refusal":
            self.set_filter(replace(self.filter, refusal=nxt[self.filter.refusal]))
        else:
            self.set_filter(replace(self.filter, blocked=nxt[self.filter.blocked]))

    def action_next_status(self) -> None:
        i = STATUS_CYCLE.index(self.filter.status) if self.filter.status in STATUS_CYCLE else 0
        self.set_filter(replace(self.filter, status=STATUS_CYCLE[(i + 1) % len(STATUS_CYCLE)]))

    def action_clear(self) -> None:
        self.range_name = "all"
        self.set_filter(RequestFilter(order=self.filter.order))

    def action_reload(self) -> None:
        if self.range_name not in ("all", "custom"):
            since = self.session.view.window(RANGES[self.range_name])[0]
            self.filter = replace(self.filter, since=since)
        self.reload()

    def action_quick_filter(self) -> None:
        from console.requests.query import describe

        box = self.query_one("#requests-quick", Input)
        box.value = describe(replace(self.filter, since=None), self.tenants)
        box.add_class("-open")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#requests-quick", Input)
        if box.has_class("-open"):
            box.remove_class("-open")
            self.query_one(DataTable).focus()
        else:
            navigation.back(self.app)  # no filter open: esc goes back (k9s)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from console.requests.query import FilterError, id_term, parse_quick

        event.stop()
        wanted = id_term(event.value)
        if wanted is not None:
            self.action_close_filter()
            self._open_id(wanted)
            return
        base = RequestFilter(since=self.filter.since, until=self.filter.until)
        try:
            now = self.session.view.now()
            flt = parse_quick(event.value, base, tenant_names(self.session), now)
        except FilterError as exc:
            self._status(str(exc), error=True)
            return
        self.action_close_filter()
        self.set_filter(flt)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Replay is not offered under --read-only (it would be refused).
        return request_actions.check(self, action, parameters)

    def action_request_action(self, name: str) -> None:
        request_actions.run(name, self, self.selected())
