"""Registry: prompts and models, their versions, alias history and lineage.

The listing is polled (each poll snapshots every alias map into the workspace
history). Selecting a name loads its versions, the alias moves the workspace
has seen and the lineage of the traffic it served over the selected range.
``d`` diffs the selected version against its predecessor, ``m`` marks a
version and ``d`` then diffs the mark against the selection, ``a`` diffs
production against canary, ``A`` points an alias at the selected version
through the one write flow (``screens/write_flow.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import DataTable, Static
from textual.worker import Worker

from connectors.base import RegistryEntry
from connectors.records import PromptVersion
from console.actions import MoveAlias
from console.core.spans import RANGES
from console.diff import view as dv
from console.diff.compare import is_eval
from console.registry import view as rv
from screens.base import DeckScreen
from screens.modals import AliasScreen
from screens.navigation import open_diff
from screens.poller import Poller, describe
from screens.widgets.table_filter import TableFilter, matches
from screens.write_flow import WriteFlow

RANGE_NAMES = list(RANGES)


@dataclass(frozen=True)
class Detail:
    name: str
    versions: list[PromptVersion]
    history: list[rv.AliasMove]
    lineage: list[rv.LineageRow]
    errors: list[str]


class RegistryScreen(DeckScreen):
    """Names on the left; versions, alias history and lineage of the selected one."""

    TITLE = "Registry"
    CSS_PATH = "registry.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "diff", "Diff"),
        Binding("m", "mark", "Mark"),
        Binding("a", "diff_aliases", "Prod vs canary"),
        Binding("A", "move_alias", "Move alias"),
        Binding("t", "next_range", "Range"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.range_name = "24h" if "24h" in RANGES else RANGE_NAMES[-1]
        self.entries: list[RegistryEntry] = []  # the names shown (the filter's)
        self.listing: rv.Listing | None = None
        self.detail: Detail | None = None
        self.mark: str | None = None
        self._shown_name: str | None = None
        self.writes = WriteFlow(self, "registry-change", after=lambda: self.poller.refresh_now())

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="registry-status")
        with Horizontal(id="registry-main"):
            names: DataTable[str] = DataTable(id="registry-names", cursor_type="row")
            yield names
            with Vertical(id="registry-right"):
                yield DataTable(id="registry-versions", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="registry-history", cursor_type="none")
                yield DataTable(id="registry-lineage", cursor_type="none")
        yield TableFilter("#registry-names", self._refilter)

    def on_mount(self) -> None:
        self.query_one("#registry-names", DataTable).add_columns(
            "name", "kind", "latest", "aliases"
        )
        self.query_one("#registry-versions", DataTable).add_columns(
            "ver", "created", "author", "commit message", "aliases", "evals", "tags"
        )
        self.query_one("#registry-history", DataTable).add_columns("when", "alias", "move")
        self.query_one("#registry-lineage", DataTable).add_columns(
            "ver", "model", "digest", "index", "policy", "requests"
        )
        for wid, title in (
            ("#registry-names", "prompts and models"),
            ("#registry-versions", "versions (newest first)"),
            ("#registry-history", "alias history"),
            ("#registry-lineage", "lineage: what served traffic"),
        ):
            self.query_one(wid).border_title = title
        self.poller: Poller[rv.Listing] = Poller(
            self,
            "registry",
            lambda: rv.load_listing(self.session),
            self._show_listing,
            max(15.0, self.session.profile.refresh_seconds * 3),
            on_stale=self._stale,
        )
        self.poller.start()

    def view_span(self) -> timedelta:
        return RANGES[self.range_name].span

    # ---------------------------------------------------------------- listing
    def action_filter(self) -> None:
        self.query_one(TableFilter).open()

    def _refilter(self, _words: str) -> None:
        if self.listing is not None:
            self._show_listing(self.listing)

    def _show_listing(self, listing: rv.Listing) -> None:
        self.listing = listing
        words = self.query_one(TableFilter).words
        self.entries = [
            e
            for e in (*listing.prompts, *listing.models)
            if matches(words, (e.name, e.kind, e.latest, *e.aliases, *e.aliases.values()))
        ]
        table = self.query_one("#registry-names", DataTable)
        keep = table.cursor_row
        table.clear()
        for e in self.entries:
            aliases = " ".join(f"{a}→{v}" for a, v in sorted(e.aliases.items()))
            table.add_row(escape(e.name), e.kind, escape(e.latest), escape(aliases), key=e.name)
        if self.entries:
            table.move_cursor(row=min(keep, len(self.entries) - 1))
        broken = f" · [b $warning]{len(listing.errors)} problems[/]" if listing.errors else ""
        self._status(
            f"{len(listing.prompts)} prompts · {len(listing.models)} models{broken} · "
            f"lineage over {self.range_name} · d diff · m mark · a prod vs canary · t range"
        )
        for problem in listing.errors[:3]:
            self.notify(problem, title="registry", severity="warning", timeout=8)
        self._load_detail()

    def _stale(self, since: object, reason: str) -> None:
        self._status(f"[b $warning]stale since {since:%H:%M:%S}:[/] {escape(reason)}")

    def _status(self, text: str) -> None:
        self.query_one("#registry-status", Static).update(text)

    def selected_name(self) -> str | None:
        table = self.query_one("#registry-names", DataTable)
        if not self.entries:
            return None
        return self.entries[min(table.cursor_row, len(self.entries) - 1)].name

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "registry-names":
            self._load_detail()

    # ----------------------------------------------------------------- detail
    def _load_detail(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        self.load("registry-detail", lambda: self._detail(name), self._show_detail,
                  self._detail_failed)  # fmt: skip

    def _detail_failed(self, error: BaseException) -> None:
        self._status(f"[b $error]cannot read versions:[/] {escape(describe(error))}")

    def _detail(self, name: str) -> Detail:
        registry = self.session.need_registry()
        versions = registry.versions(name)
        history: list[rv.AliasMove] = []
        lineage: list[rv.LineageRow] = []
        at = self.session.view.at
        if self.session.profile.workspace is None:
            versions = rv.versions_as_of(versions, at)
        else:
            conn = self.session.store()
            versions = rv.versions_as_of(versions, at, conn)
            history = rv.alias_history(conn, name, at)
            if versions and versions[0].kind == "prompt":
                start, end = self.session.view.window(RANGES[self.range_name])
                lineage = rv.lineage(conn, name, [v.version for v in versions], start, end)
        return Detail(name, versions, history, lineage, registry.problems())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.poller.handle(event)

    def _show_detail(self, detail: Detail) -> None:
        same = self._shown_name == detail.name
        self.detail, self._shown_name = detail, detail.name
        if not same:
            self.mark = None
        versions = self.query_one("#registry-versions", DataTable)
        keep = versions.cursor_row if same else len(detail.versions) - 1
        versions.clear()
        for v in reversed(detail.versions):
            evals = " ".join(f"{k.split('.', 1)[-1]}={x}" for k, x in v.tags.items() if is_eval(k))
            tags = " ".join(f"{k}={x}" for k, x in v.tags.items() if not is_eval(k))
            marker = "*" if v.version == self.mark else ""
            versions.add_row(
                escape(f"{marker}v{v.version}"),
                v.created_at.strftime("%m-%d %H:%M") if v.created_at else "-",
                escape(v.author or "-"),
                escape(v.description or "-"),
                escape(", ".join(v.aliases)),
                escape(evals),
                escape(tags),
                key=v.version,
            )
        if detail.versions:
            versions.move_cursor(row=0 if not same else min(keep, len(detail.versions) - 1))
        history = self.query_one("#registry-history", DataTable)
        history.clear()
        for m in reversed(detail.history):
            history.add_row(f"{m.ts:%m-%d %H:%M}", m.alias, f"{m.before or '∅'} → {m.after or '∅'}")
        lineage = self.query_one("#registry-lineage", DataTable)
        lineage.clear()
        for r in detail.lineage:
            cells = (
                f"v{r.prompt_version}",
                r.model_name,
                r.model_digest.removeprefix("sha256:")[:12],
                r.index_snapshot or "-",
                r.policy_version or "-",
            )
            lineage.add_row(*(escape(c) for c in cells), f"{r.requests:,}")

    def selected_version(self) -> PromptVersion | None:
        if self.detail is None or not self.detail.versions:
            return None
        table = self.query_one("#registry-versions", DataTable)
        ordered = list(reversed(self.detail.versions))
        return ordered[min(table.cursor_row, len(ordered) - 1)]

    # ---------------------------------------------------------------- actions
    def action_diff(self) -> None:
        v = self.selected_version()
        if v is None or self.detail is None:
            return
        if self.mark and self.mark != v.version:
            older, newer = sorted((self.mark, v.version), key=_vkey)
            open_diff(self.app, self.detail.name, older, newer)
        elif dv.predecessor(self.detail.versions, v.version) is None:
            self.notify(f"v{v.version} is the first version: mark another with m", timeout=5)
        else:
            open_diff(self.app, self.detail.name, v.version)

    def action_mark(self) -> None:
        v = self.selected_version()
        if v is None or self.detail is None:
            return
        self.mark = None if self.mark == v.version else v.version
        self._show_detail(self.detail)
        if self.mark:
            self.notify(f"v{self.mark} marked: select another version and press d", timeout=4)

    def action_diff_aliases(self) -> None:
        if self.detail is None:
            return
        aliases = {a for v in self.detail.versions for a in v.aliases}
        if {"production", "canary"} <= aliases:
            open_diff(self.app, self.detail.name, "production", "canary")
        else:
            self.notify(f"{self.detail.name} has no production and canary aliases", timeout=5)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Writes are not offered read-only (k9s habit); break-glass lifts it for the session.
        return not (action == "move_alias" and self.session.read_only)

    def action_move_alias(self) -> None:
        """Point an alias at the selected version, through the write pipeline."""
        v = self.selected_version()
        if v is None or self.detail is None:
            return
        name, version = self.detail.name, v.version
        aliases = sorted({a for x in self.detail.versions for a in x.aliases})

        def chosen(alias: str | None) -> None:
            if alias:
                self.writes.propose(MoveAlias(name, alias, version))

        self.app.push_screen(AliasScreen(name, version, aliases), chosen)

    def action_next_range(self) -> None:
        self.range_name = RANGE_NAMES[(RANGE_NAMES.index(self.range_name) + 1) % len(RANGE_NAMES)]
        self.poller.refresh_now()

    def action_refresh(self) -> None:
        self.poller.refresh_now()


def _vkey(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 62, version)
