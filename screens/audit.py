"""Audit: the pipeline's audit log merged with the flag backend's own events
and the alias history, newest first. ``/`` filters, ``e`` exports JSONL,
``c`` exports CSV (into the workspace, or the current directory)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker

from console.actions.plan import fmt_state
from console.audit import trail as audit_log
from console.core import clock
from console.core.errors import LlmdeckError
from screens import navigation
from screens.base import DeckScreen
from screens.poller import Poller

# DataTable cells render Rich text, which has no theme variables: plain ANSI
# styles that every theme and a 16-colour terminal show.
OUTCOME_STYLE = {"done": "green", "cancelled": "dim", "refused": "yellow",
                 "conflict": "bold yellow", "failed": "bold red"}  # fmt: skip
MAX_ROWS = 500


class AuditScreen(DeckScreen):
    """Who changed what, when, why, and how it ended."""

    TITLE = "Audit"
    # The trail up to the view time: [ and ] move it an hour (it has no range).
    VIEW_STEP = timedelta(hours=1)
    CSS_PATH = "audit.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("e", "export('jsonl')", "Export JSONL"),
        Binding("c", "export('csv')", "Export CSV"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[audit_log.AuditRow] = []
        self.shown: list[audit_log.AuditRow] = []

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="audit-status")
        yield Input(placeholder="filter: words that every row must contain", id="audit-filter")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        table.add_columns("when", "source", "outcome", "who", "action", "target", "change",
                          "reason")  # fmt: skip
        table.border_title = "audit log · backend events · alias history"
        table.focus()  # keys first; `/` moves to the filter
        self.poller: Poller[tuple[list[audit_log.AuditRow], list[str]]] = Poller(
            self,
            "audit",
            lambda: audit_log.load(self.session),
            self._loaded,
            max(10.0, self.session.profile.refresh_seconds * 2),
            on_stale=lambda since, why: self._status(
                f"[b $warning]stale since {since:%H:%M:%S}:[/] {escape(why)}"
            ),
        )
        self.poller.start()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.poller.handle(event)

    def _status(self, text: str) -> None:
        self.query_one("#audit-status", Static).update(text)

    def _loaded(self, result: tuple[list[audit_log.AuditRow], list[str]]) -> None:
        self.rows, problems = result
        for problem in problems:
            self.notify(problem, title="audit", severity="warning", timeout=8)
        self._show_rows()

    def _show_rows(self) -> None:
        text = self.query_one("#audit-filter", Input).value
        self.shown = audit_log.matching(self.rows, text)[:MAX_ROWS]
        table = self.query_one("#audit-table", DataTable)
        table.clear()
        for i, r in enumerate(self.shown):
            style = OUTCOME_STYLE.get(r.outcome, "dim")
            change = f"{fmt_state(r.before)} → {fmt_state(r.after)}" if r.after is not None else ""
            table.add_row(
                Text(f"{r.ts:%m-%d %H:%M:%S}"), Text(r.source),
                Text(r.outcome or "-", style=style), Text(r.who or "-"), Text(r.action),
                Text(r.target), Text(change[:60]), Text(r.reason),
                key=str(i),
            )  # fmt: skip
        where = f" matching {text!r}" if text else ""
        self._status(
            f"{len(self.shown)} of {len(self.rows)} entries{escape(where)} · "
            "/ filter · e JSONL · c CSV"
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "audit-filter":
            self._show_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#audit-table", DataTable).focus()

    def action_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#audit-filter", Input)
        if not box.value and not box.has_focus:
            navigation.back(self.app)  # nothing to clear: esc goes back (k9s)
            return
        box.value = ""
        self.query_one("#audit-table", DataTable).focus()

    def action_refresh(self) -> None:
        self.poller.refresh_now()

    def action_export(self, fmt: str) -> None:
        folder = self.session.profile.workspace or Path.cwd()
        path = Path(folder) / f"audit-{clock.now():%Y%m%d-%H%M%S}.{fmt}"
        try:
            n = audit_log.export(self.shown, path)
        except LlmdeckError as exc:
            self.notify(escape(str(exc)), title="export", severity="error")
            return
        self.notify(f"{n} rows → {escape(str(path))}", title="exported")
