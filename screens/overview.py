"""Overview: the on-call engineer's first screen. What is happening now, since
when, and what changed just before?

The KPI strip draws first; the charts (textual-plotext, slow to import) are
mounted after the first KPI frame, so start-up pays for the strip alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal
from textual.widgets import Static
from textual.worker import Worker

from connectors.base import GROUPINGS, RequestFilter
from console.alerts.absence import no_data_text
from console.core import clock
from console.core.errors import LlmdeckError
from console.core.spans import DEFAULT_RANGE, RANGES
from console.overview import kpis
from screens import navigation
from screens.base import DeckScreen
from screens.poller import Poller
from screens.widgets.kpi_strip import KpiStrip

if TYPE_CHECKING:
    from console.overview.panels import StaleState
    from console.overview.refresh import OverviewData


@dataclass
class ChartsFrame:
    """One refresh under the strip: the data and, per chart, (spec, stale note,
    prebuilt text and the size it was built at, "no data since" note)."""

    data: OverviewData
    charts: dict[str, tuple[Any, str, Any, str]]
    range_name: str
    group_by: str


class OverviewScreen(DeckScreen):
    """Live KPIs, charts, change markers, budgets and SLOs for the selected range."""

    TITLE = "Overview"
    CSS_PATH = "overview.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "next_range", "Range+"),
        Binding("T", "prev_range", "Range-", key_display="T"),
        Binding("g", "next_group", "Group"),
        Binding("d", "diff_newest", "Diff newest version"),
        Binding("l", "list_requests", "Requests"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.range_name = DEFAULT_RANGE
        self.group_by = "none"
        self.charts_poller: Poller[ChartsFrame] | None = None
        self._stale: StaleState | None = None
        # Plot sizes, themes and styles read on the event loop after each draw,
        # for the worker to prebuild the next frame at.
        self._plot_targets: dict[str, Any] = {}

    def compose_body(self) -> ComposeResult:
        yield KpiStrip(id="kpis")
        yield Grid(id="charts")
        with Horizontal(id="overview-lower"):
            yield Static("", id="changes")
            yield Static("", id="budgets")
            yield Static("", id="slos")

    def on_mount(self) -> None:
        self.kpi_poller: Poller[kpis.KpiFrame] = Poller(
            self,
            "kpis",
            self._load,
            self._show,
            self.session.profile.refresh_seconds,
            on_stale=self.query_one(KpiStrip).stale,
        )
        self.kpi_poller.start()

    # -- KPI strip -----------------------------------------------------------------

    def view_span(self) -> timedelta:
        return RANGES[self.range_name].span

    def _load(self) -> kpis.KpiFrame:
        return kpis.load_frame(self.session, RANGES[self.range_name])

    def _show(self, frame: kpis.KpiFrame) -> None:
        k = frame.kpis
        if k.end - k.start != RANGES[self.range_name].span:
            # The range changed while this load ran: load the new one right away.
            self.call_after_refresh(self.kpi_poller.refresh_now)
        # Pinned, the header says when; the caption says which window, not "updated".
        when = (
            f"{k.start:%m-%d %H:%M}-{k.end:%H:%M} UTC · [ ] step, L live"
            if self.session.view.pinned
            else f"updated {k.end:%H:%M:%S}"
        )
        caption = (
            f"last {self.range_name} · group by {self.group_by} · {k.requests:,} requests · "
            f"{when} · t/T range, g group"
        )
        stopped = frame.fresh.silent_since("requests") if frame.fresh else None
        if stopped is not None:
            caption = f"requests: {no_data_text(stopped, k.end)} · {caption}"
        self.query_one(KpiStrip).show(kpis.cards(frame), caption)
        self._colour_panels(frame)
        if self.charts_poller is None:
            self.call_after_refresh(self._mount_charts)

    def _colour_panels(self, frame: kpis.KpiFrame) -> None:
        """A chart shows the alert state of the signals it draws (red: a page fires)."""
        worst: dict[str, str] = {}
        for card, severity, _why in frame.alerts:
            for key in kpis.panels_of(card):
                if worst.get(key) != "bad":
                    worst[key] = severity
        self._alert_frame = frame
        for chart in self.query(".chart"):
            key = (chart.id or "").removeprefix("chart-")
            chart.set_class(worst.get(key) == "bad", "-bad")
            chart.set_class(worst.get(key) == "warn", "-warn")

    # -- charts (mounted after the first KPI frame) ------------------------------

    def _mount_charts(self) -> None:
        if self.charts_poller is not None:
            return
        from console.overview.panels import PANELS, StaleState
        from screens.widgets.charts import Chart

        self._stale = StaleState()
        grid = self.query_one("#charts", Grid)
        grid.mount_all(Chart(p.title, id=f"chart-{p.key}") for p in PANELS)
        frame = getattr(self, "_alert_frame", None)
        if frame is not None:
            self.call_after_refresh(self._colour_panels, frame)
        self.charts_poller = Poller(
            self,
            "charts",
            self._load_charts,
            self._show_charts,
            self.session.profile.refresh_seconds,
            on_stale=self._charts_failed,
        )
        self.charts_poller.start()

    def _load_charts(self) -> ChartsFrame:
        """In the worker: load, merge with the last good data, and prebuild every
        chart's text at its current size so the event loop only swaps it in."""
        from console.overview import refresh as overview_data
        from console.overview.panels import PANELS
        from screens.widgets.charts import ChartSpec, prebuild

        assert self._stale is not None
        range_name, group_by = self.range_name, self.group_by
        rng = RANGES[range_name]
        data = overview_data.load(self.session, rng, group_by)
        shown = self._stale.update(data.panels, clock.now())
        _, end = self.session.view.window(rng)
        marks = tuple(e.ts.timestamp() for e in data.changes)
        charts = {}
        for p in PANELS:
            panel, note = shown[p.key]
            # Absence comes from this refresh's reading even when the panel itself
            # failed and shows its last good data.
            absent = data.panels[p.key].absence_note()
            spec = ChartSpec(
                tuple((ln.label, ln.points) for ln in panel.lines),
                end,
                rng.span.total_seconds(),
                marks,
                100.0 if p.unit == "%" else 1.0,
            )
            target = self._plot_targets.get(p.key)
            prebuilt = None
            if target is not None and target.width > 0 and target.height > 0:
                prebuilt = prebuild(spec, target)
            charts[p.key] = (spec, note, prebuilt, absent)
        return ChartsFrame(data, charts, range_name, group_by)

    def _show_charts(self, frame: ChartsFrame) -> None:
        from screens.widgets.charts import Chart

        if (frame.range_name, frame.group_by) != (self.range_name, self.group_by):
            assert self.charts_poller is not None
            self.call_after_refresh(self.charts_poller.refresh_now)

        for key, (spec, note, prebuilt, absent) in frame.charts.items():
            chart = self.query_one(f"#chart-{key}", Chart)
            chart.show(spec, note, prebuilt)
            chart.set_absent(absent)
            self._plot_targets[key] = chart.target()
        _set_text(self.query_one("#changes", Static), _changes_text(frame.data))
        _set_text(self.query_one("#budgets", Static), _budgets_text(frame.data))
        _set_text(self.query_one("#slos", Static), _slos_text(frame.data))

    def _charts_failed(self, since: Any, reason: str) -> None:
        from screens.widgets.charts import Chart

        for chart in self.query(Chart):
            chart.set_note(f"stale since {since:%H:%M:%S}: {reason}")

    # -- keys ----------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if not self.kpi_poller.handle(event) and self.charts_poller is not None:
            self.charts_poller.handle(event)

    def _refresh_all(self) -> None:
        # Answer the key at once; the figures follow when the workers finish.
        self.query_one("#kpi-status", Static).update(
            f"last {self.range_name} · group by {self.group_by} · loading…", layout=False
        )
        self.kpi_poller.refresh_now()
        if self.charts_poller is not None:
            self.charts_poller.refresh_now()

    def action_next_range(self) -> None:
        names = list(RANGES)
        self.range_name = names[(names.index(self.range_name) + 1) % len(names)]
        self._refresh_all()

    def action_prev_range(self) -> None:
        names = list(RANGES)
        self.range_name = names[(names.index(self.range_name) - 1) % len(names)]
        self._refresh_all()

    def action_next_group(self) -> None:
        self.group_by = GROUPINGS[(GROUPINGS.index(self.group_by) + 1) % len(GROUPINGS)]
        self._refresh_all()

    def action_diff_newest(self) -> None:
        """Diff the prompt version that most recently started serving in this range
        against its predecessor: the usual suspect when a panel turns."""
        from console.diff.view import newest_in_traffic

        try:
            window = self.session.view.window(RANGES[self.range_name])
            group = newest_in_traffic(self.session.store(), *window)
        except LlmdeckError as exc:
            self.notify(str(exc), severity="warning", timeout=5)
            return
        if group is None:
            self.notify("no prompt version served in this range", severity="warning", timeout=5)
            return
        navigation.open_group_diff(self.app, "prompt_version", group)

    def action_list_requests(self) -> None:
        """The requests behind the charts: this range, newest first."""
        since, until = self.session.view.window(RANGES[self.range_name])
        navigation.open_requests(self.app, RequestFilter(since=since, until=until))

    def action_refresh(self) -> None:
        self._refresh_all()


def _set_text(widget: Static, text: str) -> None:
    # Same text: no repaint. The boxes have fixed sizes: no relayout either.
    if getattr(widget, "_shown_text", None) != text:
        widget._shown_text = text  # type: ignore[attr-defined]
        widget.update(text, layout=False)


def _changes_text(data: OverviewData) -> str:
    lines = ["[b]changes[/b] (red lines on the charts)"]
    room = 8
    # The latest changes before the range keep at least one line: at the default
    # 1 h range they are often the cause (the v14 canary went out 3 h ago).
    shown = list(data.changes[-(room - 1 if data.earlier else room) :])
    earlier = list(data.earlier[-max(1, room - max(len(shown), 1)) :])
    for e in earlier:
        who = f" · {e.who}" if e.who else ""
        lines.append(f"[$text-muted]{e.ts:%m-%d %H:%M} {e.what}{who} (before range)[/]")
    for e in shown:
        who = f" · {e.who}" if e.who else ""
        lines.append(f"{e.ts:%m-%d %H:%M} {e.what}{who}")
    if not data.changes:
        lines.append("no changes in this range")
    lines += [f"[$warning]{p}[/]" for p in data.problems]
    return "\n".join(lines)


def _budgets_text(data: OverviewData) -> str:
    lines = ["[b]cost per ok request[/b]"]
    for c in data.costs[:3]:
        per = "-" if c.cost_per_success is None else f"${c.cost_per_success:.5f}"
        lines.append(f"{c.model[:22]:22} {per}")
    lines.append("[b]budgets today[/b]")
    for b in data.budgets[:5]:
        eta = f" out {b.exhausted_at:%H:%M}" if b.exhausted_at else ""
        style = "$error" if b.over else "$text"
        who = (b.name or b.tenant)[:14]
        lines.append(f"[{style}]{who:14} ${b.spent:7.2f}/{b.daily:g} {b.burn * 100:4.0f}%{eta}[/]")
    return "\n".join(lines)


def _slos_text(data: OverviewData) -> str:
    lines = ["[b]SLOs[/b]: budget left · burn 1h / 6h"]
    for s in data.slos[:8]:
        left = "-" if s.budget_left is None else f"{max(s.budget_left, 0) * 100:.0f}%"
        b1 = "-" if s.burn_1h is None else f"{s.burn_1h:.1f}"
        b6 = "-" if s.burn_6h is None else f"{s.burn_6h:.1f}"
        style = {"exhausted": "$error", "burning": "$warning"}.get(s.status, "$text")
        lines.append(f"[{style}]{s.route} {s.objective}[/]")
        lines.append(f"[{style}]  {s.status} · {left} · {b1} / {b6}[/]")
    if not data.slos:
        lines.append("no SLOs in this profile")
    return "\n".join(lines)
