"""Alerts: firing and pending first, then silenced, then recently resolved;
below the table, the selected alert's suspects ("what changed?") with their
evidence. ``a`` acknowledges, ``s`` silences for an hour (both through the
write pipeline), ``d`` opens the top suspect's diff, ``b`` plans its rollback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.widgets import DataTable, Static
from textual.worker import Worker

from console.actions.changes import AckAlert, MuteAlert
from console.alerts.board import current
from console.alerts.engine import Board
from console.alerts.model import Alert
from console.core import clock
from screens import navigation
from screens.base import DeckScreen
from screens.poller import Poller
from screens.widgets.table_filter import TableFilter, matches
from screens.write_flow import WriteFlow

STATE_STYLE = {"firing": "bold red", "pending": "yellow", "resolved": "green"}
SILENCE_FOR = timedelta(hours=1)


def _group(a: Alert, board: Board) -> int:
    """Firing and pending, then silenced, then resolved."""
    if a.state == "resolved":
        return 2
    return 1 if a.silenced(board.at) else 0


class AlertsScreen(DeckScreen):
    """What is wrong, since when, and what changed before it."""

    TITLE = "Alerts"
    # The alerts as of the view time: [ and ] move it an hour.
    VIEW_STEP = timedelta(hours=1)
    CSS_PATH = "alerts.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "ack", "Acknowledge"),
        Binding("s", "silence", "Silence 1h"),
        Binding("d", "diff", "Suspect diff"),
        Binding("b", "rollback", "Roll back suspect"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.board: Board | None = None
        self.shown: list[Alert] = []
        self.suspects: dict[str, list[Any]] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("evaluating alerts…", id="alerts-status")
        yield TableFilter("#alerts-table", lambda _words: self._show())
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="alerts-suspects")

    def on_mount(self) -> None:
        table = self.query_one("#alerts-table", DataTable)
        table.add_columns("state", "sev", "since", "until", "alert", "burn", "marks")
        table.border_title = "firing · silenced · resolved"
        table.focus()
        self.flow = WriteFlow(self, "alert-write", self.action_refresh)
        self.poller: Poller[Board] = Poller(
            self,
            "alerts-screen",
            # The view's moment: pinned, the alerts of then (nothing recorded).
            lambda: current(self.session, self.session.view.at, drift="fresh"),
            self._loaded,
            self.session.profile.refresh_seconds,
            on_stale=lambda since, why: self._status(
                f"[b $warning]stale since {since:%H:%M:%S}:[/] {escape(why)}"
            ),
        )
        self.poller.start()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.poller.handle(event)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if hasattr(self, "poller"):
            self.poller.resume()

    def _status(self, text: str) -> None:
        self.query_one("#alerts-status", Static).update(text)

    def _loaded(self, board: Board) -> None:
        self.board = board
        self._show()

    def _show(self) -> None:
        board = self.board
        if board is None:
            return
        words = self.query_one(TableFilter).words
        rows = sorted(board.alerts, key=lambda a: (_group(a, board), a.rank()))
        self.shown = [a for a in rows if matches(words, (a.state, a.severity, a.title, a.key))]
        table = self.query_one("#alerts-table", DataTable)
        keep = table.cursor_row
        table.clear()
        for a in self.shown:
            marks = []
            if a.acked_by:
                marks.append(f"acked {a.acked_by}")
            if a.silenced(board.at) and a.silenced_until:
                marks.append(f"silenced to {a.silenced_until:%H:%M}")
            if a.stale:
                marks.append("stale")
            table.add_row(
                Text(a.state, style=STATE_STYLE.get(a.state, "")),
                Text(a.severity, style="bold" if a.severity == "page" else ""),
                Text(f"{a.onset:%m-%d %H:%M}" if a.onset else "-"),
                Text(f"{a.ended:%H:%M}" if a.ended else "-"),
                Text(a.title),
                Text(a.detail),
                Text(", ".join(marks)),
            )
        if self.shown:
            table.move_cursor(row=min(max(keep, 0), len(self.shown) - 1))
        firing = len(board.firing)
        parts = [f"{firing} firing", f"{len(self.shown)} shown", f"at {board.at:%H:%M:%S}"]
        if board.unmeasured:
            parts.append("not measured: " + "; ".join(board.unmeasured))
        parts.extend(board.problems)
        self._status(escape(" · ".join(parts)))
        self._load_suspects()

    def _selected(self) -> Alert | None:
        table = self.query_one("#alerts-table", DataTable)
        if not self.shown or table.cursor_row < 0:
            return None
        return self.shown[min(table.cursor_row, len(self.shown) - 1)]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._load_suspects()

    def _load_suspects(self) -> None:
        if not self.is_current:
            # Also while the App shuts down: a worker started then is never
            # finished, and the App waits for it (quitting from here hung).
            return
        alert = self._selected()
        box = self.query_one("#alerts-suspects", Static)
        if alert is None:
            box.update("")
            return
        if alert.kind not in ("slo", "budget"):
            box.update(f"suspects are ranked for SLO and budget alerts, not {alert.kind} alerts")
            return
        if alert.key in self.suspects:
            self._show_suspects(alert, self.suspects[alert.key])
            return
        box.update(f"what changed before {escape(alert.title)}… ranking suspects")

        def rank() -> tuple[Alert, list[Any]]:
            from console.alerts import suspects

            return alert, suspects.rank(self.session, alert)

        self.load("alert-suspects", rank, self._ranked, self._rank_failed)

    def _ranked(self, result: tuple[Alert, list[Any]]) -> None:
        alert, ranked = result
        self.suspects[alert.key] = ranked
        if self._selected() is alert or (self._selected() and self._selected().key == alert.key):  # type: ignore[union-attr]
            self._show_suspects(alert, ranked)

    def _rank_failed(self, error: BaseException) -> None:
        self.query_one("#alerts-suspects", Static).update(
            f"[$warning]suspects unavailable:[/] {escape(str(error))}"
        )

    def _show_suspects(self, alert: Alert, ranked: list[Any]) -> None:
        box = self.query_one("#alerts-suspects", Static)
        if not ranked:
            box.update(f"no change found before {escape(alert.title)}")
            return
        lines = [
            f"[b]What changed before {escape(alert.title)}[/b] (d diff, b roll back the top one)"
        ]
        for i, s in enumerate(ranked[:5], start=1):
            lines.append(f" {i}. {escape(s.evidence)}")
        box.update("\n".join(lines))

    def _top_suspect(self) -> Any:
        alert = self._selected()
        if alert is None:
            self.notify("no alert selected", severity="warning")
            return None
        ranked = self.suspects.get(alert.key)
        if not ranked:
            self.notify("no suspect for this alert (yet)", severity="warning")
            return None
        return ranked[0]

    def action_ack(self) -> None:
        alert = self._selected()
        if alert is not None:
            self.flow.propose(AckAlert(alert.key, self.session.user))

    def action_silence(self) -> None:
        alert = self._selected()
        if alert is not None:
            until = (clock.now() + SILENCE_FOR).replace(microsecond=0).isoformat()
            self.flow.propose(MuteAlert(alert.key, until))

    def action_diff(self) -> None:
        suspect = self._top_suspect()
        if suspect is None:
            return
        if not suspect.diff:
            self.notify("the top suspect has nothing to diff", severity="warning")
            return
        kind, name, a, b = suspect.diff
        if kind != "prompt":
            self.notify(f"no diff view for a {kind} change yet", severity="warning")
            return
        navigation.open_diff(self.app, name, a, b)  # older on the left

    def action_rollback(self) -> None:
        suspect = self._top_suspect()
        if suspect is None:
            return
        if suspect.rollback is None:
            self.notify(f"nothing in llmdeck can undo: {suspect.what}", severity="warning")
            return
        self.flow.propose(suspect.rollback)

    def action_filter(self) -> None:
        self.query_one(TableFilter).open()

    def action_refresh(self) -> None:
        self.suspects.clear()
        self.poller.refresh_now()
