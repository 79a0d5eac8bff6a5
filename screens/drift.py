"""Drift: per group, a current window against a baseline, worst first.

Selecting a row charts that signal over both windows. From a row, ``d``
opens the diff of the prompt version against its predecessor and ``enter``
the requests behind it (``screens/navigation.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static
from textual.worker import Worker

from console.core.settings import Thresholds
from console.core.spans import parse_span
from console.core.tenants import names as tenant_names
from screens import navigation
from screens.base import DeckScreen
from screens.poller import Poller
from screens.widgets.table_filter import TableFilter, matches

if TYPE_CHECKING:
    from console.drift.report import DriftReport, DriftRow

GROUPS = ("prompt_version", "model", "route", "tenant")


class DriftScreen(DeckScreen):
    """The drift table and the chart of the selected row."""

    TITLE = "Drift"
    CSS_PATH = "drift.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "next_group", "Group"),
        Binding("d", "open_diff", "Diff"),
        Binding("enter", "open_requests", "Requests"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.group_by = "prompt_version"
        self.report: DriftReport | None = None
        self.rows: list[DriftRow] = []  # the report's rows shown (the filter's)

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="drift-status")
        yield DataTable(id="drift-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="drift-chart-box")
        yield TableFilter("#drift-table", self._refilter)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("status", "group", "signal", "baseline", "current", "delta", "test")
        # Drift reads raw records: refresh less often than the live panels.
        interval = max(30.0, self.session.profile.refresh_seconds * 6)
        self.poller: Poller[DriftReport] = Poller(
            self, "drift", self._load, self._show, interval, on_stale=self._stale
        )
        self.poller.start()

    def on_screen_resume(self) -> None:
        # Back from another screen or a modal: the windows end "now", so a report
        # loaded before is out of date; do not wait for the next tick.
        poller = getattr(self, "poller", None)  # resumed before the first mount
        if poller is not None:
            poller.resume()

    def view_span(self) -> timedelta:
        """The current window's span: ``[`` puts the window before it in its place."""
        try:
            th = Thresholds.from_settings(self.session.profile.settings.get("drift"))
            return parse_span(th.current)
        except ValueError:  # a bad drift section: the report says so; step an hour
            return timedelta(hours=1)

    def _load(self) -> DriftReport:
        from console.drift.report import compute

        return compute(self.session, self.group_by)

    def _show(self, report: DriftReport) -> None:
        if report.group_by != self.group_by:
            # The key was pressed while this load ran: load what is asked for now.
            self.call_after_refresh(self.poller.refresh_now)
        self.report = report
        words = self.query_one(TableFilter).words
        self.rows = [
            r for r in report.rows if matches(words, (r.status, r.group, r.label, r.signal))
        ]
        table = self.query_one(DataTable)
        table.clear()
        names = tenant_names(self.session) if report.group_by == "tenant" else {}
        for i, r in enumerate(self.rows):
            table.add_row(
                _status(r.status),
                names.get(r.group, r.group),
                r.label,
                _fmt(r.baseline),
                _fmt(r.current),
                _delta(r),
                f"{r.test}={r.statistic:.2f}",
                key=str(i),
            )
        alerts = sum(r.status == "alert" for r in report.rows)
        cur, base = report.current, report.baseline
        self.query_one("#drift-status", Static).update(
            f"by {report.group_by} · current {cur[0]:%m-%d %H:%M}-{cur[1]:%H:%M} vs baseline "
            f"{base[0]:%m-%d %H:%M}-{base[1]:%m-%d %H:%M} · {alerts} alerts · "
            "g group, d diff, enter requests"
        )
        if self.rows:
            self._chart(self.rows[0])

    def _stale(self, since: object, reason: str) -> None:
        self.query_one("#drift-status", Static).update(f"stale since {since:%H:%M:%S}: {reason}")

    def _chart(self, row: DriftRow) -> None:
        from console.drift.report import signal_series

        group_by = self.group_by
        self.load(
            "drift-chart",
            lambda: signal_series(self.session, group_by, row.group, row.signal),
            lambda lines: self.call_later(self._chart_show, row, lines),  # it mounts: async
        )

    async def _chart_show(
        self, row: DriftRow, lines: list[tuple[str, list[tuple[float, float]]]]
    ) -> None:
        from screens.widgets.charts import Chart, ChartSpec

        assert self.report is not None
        box = self.query_one("#drift-chart-box")
        charts = list(box.query(Chart))
        chart = charts[0] if charts else Chart("", id="drift-chart")
        if not charts:
            await box.mount(chart)
        group = tenant_names(self.session).get(row.group, row.group)
        chart.query_one(".chart-title", Static).update(
            f"{group} · {row.label} · baseline and current windows start at the red lines"
        )
        end = self.report.current[1]
        span = (end - self.report.baseline[0]).total_seconds()
        marks = (self.report.baseline[0].timestamp(), self.report.current[0].timestamp())
        chart.show(ChartSpec(tuple((label, tuple(p)) for label, p in lines), end, span, marks))

    def selected(self) -> DriftRow | None:
        table = self.query_one(DataTable)
        if not self.rows:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.selected()
        if row is not None:
            self._chart(row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_requests()  # the table takes enter before the screen binding

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.poller.handle(event)

    def action_filter(self) -> None:
        self.query_one(TableFilter).open()

    def _refilter(self, _words: str) -> None:
        if self.report is not None:
            self._show(self.report)

    def action_next_group(self) -> None:
        self.group_by = GROUPS[(GROUPS.index(self.group_by) + 1) % len(GROUPS)]
        self.poller.refresh_now()

    def action_refresh(self) -> None:
        self.poller.refresh_now()

    def action_open_diff(self) -> None:
        """Open the diff of the selected row's prompt version against its predecessor."""
        row = self.selected()
        if row is not None:
            navigation.open_group_diff(self.app, self.group_by, row.group)

    def action_open_requests(self) -> None:
        """Open the requests behind the selected row."""
        row = self.selected()
        if row is not None:
            navigation.open_requests_of_group(self.app, self.group_by, row.group, row.signal)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"


def _delta(r: DriftRow) -> str:
    if r.delta is None:
        return "-"
    if r.baseline:
        return f"{r.delta:+.3g} ({r.delta / r.baseline:+.0%})"
    return f"{r.delta:+.3g}"


def _status(status: str) -> Text:
    style = {"alert": "bold red", "warn": "yellow", "low data": "dim"}.get(status, "")
    return Text(status, style=style)
