"""Replay comparison: the logged output beside the replayed one, and replay A
beside replay B when two prompt versions were replayed on the same requests.

``replay_request`` is the Requests screens' ``r`` action (screens/request_actions.py);
``navigation.open_replay(app, request)`` opens a replay from anywhere.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from connectors.records import ReplayResult, RequestRecord
from console.diff.compare import Segment, intraline
from console.replay.engine import Replayer, ReplayOptions
from screens import navigation
from screens.base import DeckScreen
from screens.poller import describe
from screens.widgets.model_status import model_line, model_ready


def _marked(segments: tuple[Segment, ...]) -> Text:
    text = Text()
    for s in segments:
        text.append(s.text, style="reverse" if s.changed else "")
    return text


def sides(left: str | None, right: str | None) -> tuple[Text, Text]:
    """Both texts with the words that differ highlighted."""
    if left is None or right is None:
        return Text(left or "(no output logged)"), Text(right or "(no output)")
    a, b = intraline(left, right)
    return _marked(a), _marked(b)


def summary(result: ReplayResult, record: RequestRecord | None) -> Text:
    """The verdict line, the figures and the notes of one replay."""
    from console.replay import fidelity

    text = Text()
    text.append(f" {result.verdict.upper()} ", style="bold reverse")
    if result.similarity is not None:
        text.append(f"  similarity {result.similarity:.2f}")
    sent = result.request or {}
    seed = (sent.get("params") or {}).get("seed", "-")
    text.append(
        f"  · {result.target} ({sent.get('model') or '?'}) · prompt v{result.prompt_version or '?'}"
        f" · seed {seed}"
    )
    if result.output is not None:
        text.append(
            f" · {result.latency_ms:.0f} ms · tokens {result.tokens_in}/{result.tokens_out}"
            f" · ${result.cost_usd:.4f}"
        )
    if result.error:
        text.append(f"\n{result.error}", style="bold")
    if record is not None:
        for note in fidelity.notes(
            result.verdict,
            record.system_fingerprint,
            result.system_fingerprint,
            record.model_name,
            str(sent.get("model") or ""),
            result.distinct_outputs,
            int(sent.get("repeat") or 1),
        ):
            text.append(f"\n• {note}")
    return text


class ReplayScreen(DeckScreen):
    """One request: its logged output beside a replay (run now, or stored)."""

    TITLE = "Replay"
    CSS_PATH = "replay.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("r", "replay", "Replay again"),
        Binding("n", "next_output", "Next repeat"),
    ]

    def __init__(
        self,
        record: RequestRecord,
        result: ReplayResult | None = None,
        options: ReplayOptions | None = None,
    ) -> None:
        super().__init__()
        self.record = record
        self.result = result
        self.options = options or ReplayOptions()
        self.output_index = 0

    def compose_body(self) -> ComposeResult:
        rec = self.record
        yield Static(
            Text(
                f"{rec.request_id} · {rec.route} · {rec.prompt_id} v{rec.prompt_version} · "
                f"{rec.model_name} · {rec.ts:%Y-%m-%d %H:%M:%S}"
            ),
            id="replay-request",
        )
        yield Static("", id="replay-summary")
        with Horizontal(id="replay-sides"):
            with VerticalScroll(classes="replay-side"):
                yield Static("Logged", classes="replay-title")
                yield Static("", id="replay-logged")
            with VerticalScroll(classes="replay-side"):
                yield Static("Replayed", id="replay-right-title", classes="replay-title")
                yield Static("", id="replay-replayed")

    def on_mount(self) -> None:
        if self.result is not None:
            self.show(self.result)
        else:
            self.action_replay()

    def action_back(self) -> None:
        navigation.back(self.app)

    def action_replay(self) -> None:
        box = self.query_one("#replay-summary", Static)
        box.set_classes("-running")
        box.update(Text("replaying… (same messages, parameters and seed as logged)"))
        self.load("replay", self._replay, self.show, self._failed)

    async def _replay(self) -> ReplayResult:
        replayer = Replayer(self.session, self.options)
        try:
            return await replayer.replay(self.record, strict=True)
        finally:
            await replayer.aclose()

    def _failed(self, error: BaseException) -> None:
        box = self.query_one("#replay-summary", Static)
        box.set_classes("-failed")
        box.update(Text(f"cannot replay: {describe(error)}"))

    def show(self, result: ReplayResult) -> None:
        self.result = result
        self.output_index = 0
        box = self.query_one("#replay-summary", Static)
        box.set_classes(f"-{result.verdict}")
        box.update(summary(result, self.record))
        self._show_output()

    def _outputs(self) -> list[str]:
        if self.result is None:
            return []
        outs = list((self.result.request or {}).get("outputs") or [])
        return outs or ([self.result.output] if self.result.output is not None else [])

    def _show_output(self) -> None:
        outs = self._outputs()
        right = outs[self.output_index] if outs else None
        if self.result is not None and right is None:
            right_text: Text = Text(self.result.error or "(no output)")
            left_text = Text(self.record.output or "(no output logged)")
        else:
            left_text, right_text = sides(self.record.output, right)
        self.query_one("#replay-logged", Static).update(left_text)
        self.query_one("#replay-replayed", Static).update(right_text)
        title = "Replayed" + (
            f" (repeat {self.output_index + 1} of {len(outs)})" if len(outs) > 1 else ""
        )
        self.query_one("#replay-right-title", Static).update(title)

    def action_next_output(self) -> None:
        outs = self._outputs()
        if len(outs) > 1:
            self.output_index = (self.output_index + 1) % len(outs)
            self._show_output()


class CompareScreen(DeckScreen):
    """Replay A against replay B on the same requests (two prompt versions)."""

    TITLE = "Replay A/B"
    CSS_PATH = "replay.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, batch_a: str, batch_b: str) -> None:
        super().__init__()
        self.batch_a, self.batch_b = batch_a, batch_b
        self.rows: list[tuple[str, ReplayResult, ReplayResult]] = []

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="cmp-summary")
        yield DataTable(id="cmp-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="cmp-sides"):
            with VerticalScroll(classes="replay-side"):
                yield Static("A", id="cmp-a-title", classes="replay-title")
                yield Static("", id="cmp-a")
            with VerticalScroll(classes="replay-side"):
                yield Static("B", id="cmp-b-title", classes="replay-title")
                yield Static("", id="cmp-b")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("request", "A vs logged", "A sim", "B vs logged", "B sim", "B vs A")
        self.load("compare", self._load, self.show, self._failed)

    def _load(self) -> Any:
        from console.replay import store

        return store.compare(self.session.store(), self.batch_a, self.batch_b)

    def _failed(self, error: BaseException) -> None:
        self.query_one("#cmp-summary", Static).update(describe(error))

    def show(self, cmp: Any) -> None:
        self.rows = list(cmp.rows)
        text = Text()
        text.append(f"A: {self.batch_a or 'single'} ({cmp.a_label})\n")
        text.append(f"B: {self.batch_b or 'single'} ({cmp.b_label})\n")
        if cmp.changed is None:
            text.append("the two batches share no requests", style="bold")
        else:
            text.append(
                f"B's output differs from A's on {cmp.changed:.0%} of {len(self.rows)} requests",
                style="bold",
            )
        self.query_one("#cmp-summary", Static).update(text)
        self.query_one("#cmp-a-title", Static).update(f"A · {cmp.a_label}")
        self.query_one("#cmp-b-title", Static).update(f"B · {cmp.b_label}")
        table = self.query_one(DataTable)
        table.clear()
        for (rid, a, b), ab in zip(self.rows, cmp.ab, strict=True):
            table.add_row(rid, a.verdict, _sim(a), b.verdict, _sim(b), ab, key=rid)
        if self.rows:
            self._show_pair(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.rows):
            self._show_pair(event.cursor_row)

    def _show_pair(self, i: int) -> None:
        _, a, b = self.rows[i]
        left, right = sides(a.output or a.error or "", b.output or b.error or "")
        self.query_one("#cmp-a", Static).update(left)
        self.query_one("#cmp-b", Static).update(right)

    def action_back(self) -> None:
        navigation.back(self.app)


def _sim(r: ReplayResult) -> str:
    return "" if r.similarity is None else f"{r.similarity:.2f}"


def replay_request(screen: Any, record: RequestRecord) -> None:
    """The ``r`` action of the Requests table and the request detail."""
    if not record.has_content:
        screen.notify(
            "cannot replay: content not logged (only hashes were kept)", severity="warning"
        )
        return
    if model_ready(screen.app) is False and _goes_to_local_model(screen):
        screen.notify(
            f"{model_line(screen.app) or 'the local model is starting'}; replay is offered "
            "as soon as it answers.",
            title="local model not ready",
            severity="warning",
        )
        return
    navigation.open_replay(screen.app, record)


def _goes_to_local_model(screen: Any) -> bool:
    """True when the default target is the demo's local model."""
    targets = screen.app.session.profile.replay_targets
    model = getattr(screen.app, "local_model", None)
    if not targets or model is None:
        return False
    url = str(next(iter(targets.values())).options.get("url", "")).rstrip("/")
    return url == model.url.rstrip("/")
