"""Flags: flags and kill switches, with the write keys of the pipeline.

Kill switches come first. ``space`` toggles the selected flag, ``k`` trips
(or resets) the kill switch, ``w`` sets variant weights, ``b`` rolls the
selected flag's route back to its last known good prompt version. Every key
goes through the one write flow (``screens/write_flow.py``): plan, confirm,
execute and audit through ``console.actions``. In read-only mode the write keys are gone
(``check_action``) and ``!`` offers break-glass.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.widgets import DataTable, Static
from textual.worker import Worker

from connectors.errors import ConnectorError
from console.actions import RollbackRoute, SetEnabled, SetWeights
from console.actions.breakglass import leave_read_only
from console.actions.changes import Change, parse_weights
from console.core.errors import LlmdeckError
from console.flags import rows as flag_view
from screens.base import DeckScreen
from screens.modals import ReasonScreen, WeightsScreen
from screens.poller import Poller
from screens.widgets.table_filter import TableFilter, matches
from screens.write_flow import WriteFlow

WRITE_ACTIONS = frozenset({"toggle_flag", "kill", "weights", "rollback"})


class FlagsScreen(DeckScreen):
    """Flags and kill switches in the profile's environment."""

    TITLE = "Flags"
    # The states the store recorded before the view time: [ and ] move it an hour.
    VIEW_STEP = timedelta(hours=1)
    CSS_PATH = "flags.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_flag", "Toggle"),
        Binding("k", "kill", "Kill switch"),
        Binding("w", "weights", "Weights"),
        Binding("b", "rollback", "Roll back route"),
        Binding("exclamation_mark", "break_glass", "Break glass", key_display="!"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.all_rows: list[flag_view.FlagRow] = []
        self.rows: list[flag_view.FlagRow] = []  # the rows shown (the filter's)
        self.writes = WriteFlow(self, "flags-change", after=lambda: self.poller.refresh_now())

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="flags-status")
        yield DataTable(id="flags-table", cursor_type="row", zebra_stripes=True)
        yield TableFilter("#flags-table", lambda _words: self._show(self.all_rows))

    def on_mount(self) -> None:
        table = self.query_one("#flags-table", DataTable)
        table.add_columns("type", "flag", "state", "variants", "steers", "last change", "by")
        table.border_title = f"flags · {self.session.profile.environment}"
        self.poller: Poller[list[flag_view.FlagRow]] = Poller(
            self,
            "flags",
            lambda: flag_view.load(self.session),
            self._show,
            max(5.0, self.session.profile.refresh_seconds),
            on_stale=lambda since, why: self._status(
                f"[b $warning]stale since {since:%H:%M:%S}:[/] {escape(why)}"
            ),
        )
        self.poller.start()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.poller.handle(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """k9s habit: write keys are offered only when the session may write and
        the flag store can (weights need a store with variants)."""
        if action in WRITE_ACTIONS:
            caps = self._capabilities()
            if self.session.read_only or "write" not in caps:
                return False
            return action != "weights" or "variants" in caps
        if action == "break_glass":
            return self.session.read_only and not self.session.forced_read_only
        return True

    def _capabilities(self) -> frozenset[str]:
        try:
            store = self.session.flags()
        except LlmdeckError:
            return frozenset()
        return store.capabilities if store is not None else frozenset()

    # ------------------------------------------------------------ rendering
    def _status(self, text: str) -> None:
        self.query_one("#flags-status", Static).update(text)

    def action_filter(self) -> None:
        self.query_one(TableFilter).open()

    def _show(self, rows: list[flag_view.FlagRow]) -> None:
        words = self.query_one(TableFilter).words
        self.all_rows = rows
        rows = [r for r in rows if matches(words, (r.flag.kind, r.key, r.weights, r.steers,
                                                    r.last_by or ""))]  # fmt: skip
        self.rows = rows
        table = self.query_one("#flags-table", DataTable)
        keep = table.cursor_row
        table.clear()
        for r in rows:
            # DataTable cells render Rich text (no theme variables): plain styles.
            kind = Text("KILL", "bold red") if r.flag.is_kill_switch else Text(r.flag.kind)
            if r.enabled is None:
                state = Text("n/a", "dim")
            elif r.flag.is_kill_switch:
                state = Text("TRIPPED", "bold reverse red") if r.enabled else Text("armed")
            else:
                state = Text("on", "bold") if r.enabled else Text("off", "dim")
            when = f"{r.last_change:%m-%d %H:%M}" if r.last_change else "-"
            table.add_row(kind, Text(r.key), state, Text(r.weights), Text(r.steers),
                          Text(when), Text(r.last_by or "-"), key=r.key)  # fmt: skip
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))
        tripped = sum(1 for r in self.all_rows if r.flag.is_kill_switch and r.enabled)
        if self.session.forced_read_only:  # --read-only: break-glass is refused, not offered
            mode = "[b $warning]read-only[/] (started with --read-only)"
        elif self.session.read_only:
            mode = "[b $warning]read-only[/]: ! break glass"
        else:
            mode = "space toggle · k kill switch · w weights · b roll back route"
        if self.session.view.pinned:
            # Writes happen now: refused until L (screens/write_flow.py).
            known = sum(1 for r in self.all_rows if r.recorded_at is not None)
            mode = (
                f"[b $warning]pinned[/]: states as recorded before then ({known} recorded, "
                "the others as now) · L live to write"
            )
        shown = (
            f"{len(rows)} of {len(self.all_rows)} flags ({escape(words)})"
            if words
            else f"{len(rows)} flags"
        )
        self._status(f"{shown} · {tripped} kill switches tripped · {mode}")

    def selected(self) -> flag_view.FlagRow | None:
        if not self.rows:
            return None
        return self.rows[min(self.query_one("#flags-table", DataTable).cursor_row,
                             len(self.rows) - 1)]  # fmt: skip

    # -------------------------------------------------------------- actions
    def action_refresh(self) -> None:
        self.poller.refresh_now()

    def action_toggle_flag(self) -> None:
        row = self.selected()
        if row is not None and row.enabled is not None:
            self.propose(SetEnabled(row.key, not row.enabled))

    def action_kill(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.flag.is_kill_switch:
            self.propose(SetEnabled(row.key, not row.enabled))
            return
        steers = row.flag.metadata.get("route") or row.flag.metadata.get("model")
        switch = next(
            (r for r in self.all_rows if r.flag.is_kill_switch and steers
             and steers in (r.flag.metadata.get("route"), r.flag.metadata.get("model"))),
            None,
        )  # fmt: skip
        if switch is None:
            self.notify(f"no kill switch for {row.key}", severity="warning")
            return
        self.propose(SetEnabled(switch.key, True))

    def action_weights(self) -> None:
        row = self.selected()
        if row is None or row.flag.is_kill_switch:
            return
        env = row.flag.env(self.session.profile.environment) or row.flag.environments[0]
        current = " ".join(f"{v.name}={v.weight:g}" for v in env.variants)

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                weights = parse_weights(text.replace(",", " ").split())
            except ConnectorError as exc:
                self.notify(str(exc), severity="error")
                return
            self.propose(SetWeights(row.key, weights))

        self.app.push_screen(WeightsScreen(row.key, current), done)

    def action_rollback(self) -> None:
        row = self.selected()
        route = row.flag.metadata.get("route") if row else None
        if not route:
            self.notify("the selected flag routes no route", severity="warning")
            return
        self.propose(RollbackRoute(route))

    def action_break_glass(self) -> None:
        def done(reason: str | None) -> None:
            if reason is None:
                return
            outcome = leave_read_only(self.session, reason)
            self.refresh_bindings()
            self.query_one("DeckHeader").refresh()
            self.writes.report(outcome)  # says it and refreshes the flags

        self.app.push_screen(
            ReasonScreen("Break glass: leave read-only mode",
                         "Writes become possible for the rest of this session. "
                         "Audited with your reason."),
            done,
        )  # fmt: skip

    # --------------------------------------------------------- the pipeline
    def propose(self, change: Change) -> None:
        """Plan ``change`` in a worker, then confirm and execute it."""
        self.writes.propose(change)
