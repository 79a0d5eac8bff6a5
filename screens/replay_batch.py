"""Batch replay: configure, run with a progress bar, cancel, and browse what is stored.

The form picks the target, the requests (the Requests screen's quick filter,
e.g. ``route:/support/chat version:13 since:3h``), a prompt version or model
override, repeats, concurrency and the batch budget. Results are stored as
they arrive; the tables below browse every stored batch and its replays.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, ProgressBar, Select, Static

from connectors.records import ReplayResult, RequestRecord
from console.core.errors import LlmdeckError
from console.core.tenants import names as tenant_names
from console.replay.engine import BatchProgress, BatchReport, Replayer, ReplayOptions
from screens import navigation
from screens.base import DeckScreen
from screens.poller import describe
from screens.widgets.table_filter import TableFilter, matches

_FIELDS = (  # id, label, placeholder
    ("f-filter", "requests (quick filter)", "route:/support/chat version:13 since:3h"),
    ("f-version", "prompt version", "as logged"),
    ("f-model", "model", "target's"),
    ("f-repeat", "repeats", "1"),
    ("f-concurrency", "concurrency", "4"),
    ("f-budget", "budget $", "profile's"),
    ("f-limit", "max requests", "50"),
)


class ReplayBatchScreen(DeckScreen):
    """Replay the filtered requests; browse stored batches; compare two."""

    TITLE = "Replays"
    CSS_PATH = "replay_batch.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "run", "Run batch"),
        Binding("escape", "cancel", "Cancel batch"),
        Binding("m", "mark", "Mark A/B"),
        Binding("e", "export('golden')", "Export golden"),
        Binding("p", "export('promptfoo')", "Export promptfoo"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("ctrl+r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.cancel_event = threading.Event()
        self.running = False
        self.batch_ids: list[str] = []  # the batches shown (the filter's)
        self._all_batches: Any = []
        self.results: list[ReplayResult] = []
        self.marked: str | None = None
        # The form as read when Run was pressed: used once its requests are loaded.
        self._pending: tuple[ReplayOptions, dict[str, Any]] = (ReplayOptions(), {})

    def compose_body(self) -> ComposeResult:
        targets = list(self.session.profile.replay_targets)
        with Horizontal(id="batch-form"):
            select: Select[str] = Select(
                [(t, t) for t in targets],
                id="f-target",
                allow_blank=not targets,
                value=targets[0] if targets else Select.NULL,
            )
            select.border_title = "target"
            yield select
            for fid, label, placeholder in _FIELDS:
                box = Input(placeholder=placeholder, id=fid)
                box.border_title = label
                yield box
        with Horizontal(id="batch-run"):
            yield Button("Run batch (ctrl+s)", id="run", variant="primary")
            yield Button("Cancel (esc)", id="cancel", disabled=True)
            yield ProgressBar(total=1, id="batch-progress", show_eta=False)
            yield Static("", id="batch-status")
        with Horizontal(id="batch-browse"):
            yield DataTable(id="batches", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
        yield TableFilter("#batches", lambda _words: self._show_batches(self._all_batches))

    def on_mount(self) -> None:
        self.query_one("#batches", DataTable).add_columns(
            "started", "batch", "target", "ver", "n", "verdicts", "cost"
        )
        self.query_one("#results", DataTable).add_columns(
            "request", "verdict", "sim", "outs", "ms", "reason"
        )
        self.query_one("#batches", DataTable).border_title = "stored batches (m: mark A/B)"
        self.query_one("#results", DataTable).border_title = "replays (enter: compare)"
        self.action_reload()

    # -- running a batch ---------------------------------------------------------------
    def _form(self) -> tuple[ReplayOptions, dict[str, Any]]:
        """The options and run settings in the form. Raises LlmdeckError naming the field."""
        from console.requests.query import FilterError, parse_quick

        def value(fid: str) -> str:
            return self.query_one(f"#{fid}", Input).value.strip()

        def number(fid: str, default: float, kind: type = int) -> Any:
            raw = value(fid)
            try:
                n = kind(raw) if raw else default
            except ValueError:
                raise LlmdeckError(f"{fid[2:]}: not a number: {raw!r}") from None
            if n <= 0 and fid != "f-budget":
                raise LlmdeckError(f"{fid[2:]}: must be positive")
            return n

        try:
            flt = parse_quick(value("f-filter"), tenants=tenant_names(self.session))
        except FilterError as exc:
            raise LlmdeckError(f"filter: {exc}") from None
        target = self.query_one("#f-target", Select).value
        budget = number("f-budget", -1.0, float)
        options = ReplayOptions(
            target=str(target) if isinstance(target, str) else "",
            prompt_version=value("f-version"),
            model=value("f-model"),
            repeat=number("f-repeat", 1),
            per_batch_budget=None if budget < 0 else budget,
        )
        return options, {
            "filter": flt,
            "concurrency": number("f-concurrency", 4),
            "limit": number("f-limit", 50),
        }

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self.action_run()
        elif event.button.id == "cancel":
            self.action_cancel()

    def action_run(self) -> None:
        if self.running:
            self.notify("a batch is already running", severity="warning")
            return
        try:
            options, run = self._form()
        except LlmdeckError as exc:
            self.notify(str(exc), severity="error")
            return
        self._status(Text("selecting requests…"))
        self._pending = (options, run)
        self.load("batch-load", lambda: self._records(run), self._loaded, self._not_run,
                  exclusive=False)  # fmt: skip

    def _records(self, run: dict[str, Any]) -> list[RequestRecord]:
        log = self.session.request_log()
        if log is None:
            raise LlmdeckError("this profile has no request log")
        out: list[RequestRecord] = []
        cursor = None
        while len(out) < run["limit"]:
            page = log.page(run["filter"], limit=min(run["limit"] - len(out), 500), cursor=cursor)
            out += page.records
            cursor = page.next_cursor
            if cursor is None:
                break
        return out

    async def _run(self, records: list[RequestRecord]) -> BatchReport:
        options, run = self._pending
        replayer = Replayer(self.session, options)
        try:
            return await replayer.batch(
                records,
                concurrency=run["concurrency"],
                progress=self._progress,
                cancel=self.cancel_event,
            )
        finally:
            await replayer.aclose()

    def _progress(self, state: BatchProgress) -> None:
        self.query_one(ProgressBar).update(total=state.total, progress=state.done)
        counts = " · ".join(f"{k} {v}" for k, v in sorted(state.counts.items()))
        self._status(Text(f"{state.done}/{state.total} · {counts} · ${state.cost_usd:.4f}"))

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.query_one("#run", Button).disabled = running
        self.query_one("#cancel", Button).disabled = not running

    def action_cancel(self) -> None:
        if self.running:
            self.cancel_event.set()
            self._status(Text("cancelling…"))
        else:
            navigation.back(self.app)  # nothing to cancel: esc goes back (k9s)

    def _status(self, text: Text) -> None:
        self.query_one("#batch-status", Static).update(text)

    # -- browsing -----------------------------------------------------------------------
    def action_reload(self) -> None:
        self.load("batches", self._batches, self._show_batches, self._failed)

    def _batches(self) -> Any:
        from console.replay import store

        return store.batches(self.session.store())

    def action_filter(self) -> None:
        self.query_one(TableFilter).open()

    def _show_batches(self, batches: Any) -> None:
        self._all_batches = batches
        words = self.query_one(TableFilter).words
        batches = [
            b
            for b in batches
            if matches(
                words, (b.batch_id or "single", b.target, b.prompt_version or "", *b.verdicts)
            )
        ]
        table = self.query_one("#batches", DataTable)
        table.clear()
        self.batch_ids = []
        for b in batches:
            counts = " ".join(f"{k[:4]} {v}" for k, v in b.verdicts.items())
            mark = " A" if b.batch_id == self.marked else ""
            table.add_row(
                f"{b.started:%m-%d %H:%M:%S}",
                (b.batch_id or "single") + mark,
                b.target,
                b.prompt_version or "-",
                str(b.n),
                counts,
                f"${b.cost_usd:.4f}",
            )
            self.batch_ids.append(b.batch_id)
        if not batches:
            self.query_one("#results", DataTable).clear()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "batches" and 0 <= event.cursor_row < len(self.batch_ids):
            batch = self.batch_ids[event.cursor_row]
            self.load("results", lambda: self._results(batch), self._show_results, self._failed)

    def _results(self, batch: str) -> list[ReplayResult]:
        from console.replay import store

        return store.for_batch(self.session.store(), batch)

    def _show_results(self, results: list[ReplayResult]) -> None:
        self.results = results
        table = self.query_one("#results", DataTable)
        table.clear()
        for r in results:
            table.add_row(
                r.request_id,
                r.verdict,
                "" if r.similarity is None else f"{r.similarity:.2f}",
                str(r.distinct_outputs),
                f"{r.latency_ms:.0f}",
                (r.error or "")[:60],
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "results" and 0 <= event.cursor_row < len(self.results):
            result = self.results[event.cursor_row]
            self.load("open", lambda: self._open(result), self._show_replay, self._failed,
                      exclusive=False)  # fmt: skip
        elif event.data_table.id == "batches":
            self.action_mark()

    def _open(self, result: ReplayResult) -> tuple[RequestRecord, ReplayResult]:
        log = self.session.request_log()
        if log is None:
            raise LlmdeckError("this profile has no request log")
        return log.get(result.request_id), result

    def _current_batch(self) -> str | None:
        table = self.query_one("#batches", DataTable)
        row = table.cursor_row
        return self.batch_ids[row] if 0 <= row < len(self.batch_ids) else None

    def action_mark(self) -> None:
        batch = self._current_batch()
        if batch is None:
            return
        if self.marked is None or self.marked == batch:
            self.marked = None if self.marked == batch else batch
            self.notify(
                f"A = {batch or 'single'}; mark another batch as B"
                if self.marked
                else "mark cleared"
            )
            self.action_reload()
            return
        a, self.marked = self.marked, None
        navigation.open_compare(self.app, a, batch)

    def action_export(self, fmt: str) -> None:
        batch = self._current_batch()
        if batch is None:
            self.notify("no batch selected", severity="warning")
            return
        self.load("export", lambda: self._export(batch, fmt),
                  lambda done: self.notify(str(done), title="exported"), self._failed,
                  exclusive=False)  # fmt: skip

    def _export(self, batch: str, fmt: str) -> str:
        from console.replay import export, store

        log = self.session.request_log()
        ws = self.session.profile.workspace
        if log is None or ws is None:
            raise LlmdeckError("exports need a request log and a workspace")
        pairs = [(r, log.get(r.request_id)) for r in store.for_batch(self.session.store(), batch)]
        suffix = "golden.jsonl" if fmt == "golden" else "promptfoo.yaml"
        path = ws / "exports" / f"{batch or 'single'}.{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        n = export.write(path, pairs, fmt)
        return f"wrote {n} {fmt} cases to {path}"

    # -- workers ------------------------------------------------------------------------
    def _failed(self, error: BaseException) -> None:
        self.notify(describe(error), severity="error")

    def _not_run(self, error: BaseException) -> None:
        self._set_running(False)
        self._status(Text(f"batch not run: {describe(error)}", style="bold"))

    def _loaded(self, records: list[RequestRecord]) -> None:
        if not records:
            self._status(Text("no logged requests match the filter"))
            return
        self.cancel_event.clear()
        self._set_running(True)
        self.query_one(ProgressBar).update(total=len(records), progress=0)
        self.load("batch-run", self._run(records), self._ran, self._not_run,
                  exclusive=False)  # fmt: skip

    def _ran(self, report: BatchReport) -> None:
        self._set_running(False)
        how = "cancelled after" if report.cancelled else "done:"
        self._status(
            Text(
                f"batch {report.batch_id} {how} {len(report.results)} replays "
                f"in {report.seconds:.1f} s"
            )
        )
        self.action_reload()

    def _show_replay(self, opened: tuple[RequestRecord, ReplayResult]) -> None:
        record, replay = opened
        navigation.open_replay(self.app, record, result=replay)
