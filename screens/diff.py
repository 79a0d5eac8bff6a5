"""Diff: two versions of a prompt side by side, and what each did to traffic.

Other screens open it with ``navigation.open_diff(app, name, a, b)`` (``b``
None: ``a`` against its predecessor) or ``navigation.open_group_diff(app,
group_by, group)`` for a ``prompt@version`` group (the Drift screen's ``d``
key). Shown as a mode (number key) it
compares the first prompt's ``canary`` with its ``production`` alias, or its
newest version with the one before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.widgets import DataTable, Static

from connectors.records import RequestRecord
from connectors.support.atomic import private_opener
from console.core.spans import DEFAULT_RANGE, RANGES
from console.diff.compare import FieldChange, unified
from console.diff.view import DiffView as Loaded
from console.diff.view import load_diff
from screens import navigation
from screens.base import DeckScreen
from screens.poller import describe
from screens.widgets.diff_view import DiffView, rows_of

DIFF_RANGE = "24h" if "24h" in RANGES else DEFAULT_RANGE


@dataclass(frozen=True)
class Target:
    name: str
    a: str
    b: str | None  # None: ``a`` against its predecessor


def diff_request_version(screen: Any, record: RequestRecord) -> None:
    """The ``d`` request action: the request's prompt version against its predecessor."""
    if not record.prompt_id or not record.prompt_version:
        screen.notify("this request names no prompt version", severity="warning", timeout=5)
        return
    navigation.open_diff(screen.app, record.prompt_id, record.prompt_version)


class DiffScreen(DeckScreen):
    """Side-by-side template diff, config/tags/evals and traffic of both versions."""

    TITLE = "Diff"
    CSS_PATH = "diff.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "hunk(1)", "Next hunk"),
        Binding("p", "hunk(-1)", "Prev hunk"),
        Binding("e", "export", "Export .diff"),
        Binding("c", "copy", "Copy diff"),
        Binding("escape", "back", "Back"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, target: Target | None = None, *, pushed: bool = False) -> None:
        super().__init__()
        self.target = target
        self.pushed = pushed
        self.loaded: Loaded | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="diff-title")
        facts: DataTable[str] = DataTable(id="diff-facts", cursor_type="none", zebra_stripes=True)
        yield facts
        yield DiffView(id="diff-view")
        yield Static("", id="diff-status")

    def on_mount(self) -> None:
        self.query_one("#diff-facts", DataTable).add_columns("", "older", "newer", "")
        self.action_reload()

    def action_reload(self) -> None:
        self.load("diff", self._load, self._show, self._failed)

    def view_span(self) -> timedelta:
        return RANGES[DIFF_RANGE].span  # the traffic figures' window

    def view_changed(self) -> None:
        self.action_reload()

    def _default_target(self) -> Target:
        registry = self.session.need_registry()
        names = registry.names("prompt")
        if not names:
            raise LookupError("the registry has no prompts")
        for name in names:
            aliases = {a.alias for a in registry.aliases(name)}
            if {"canary", "production"} <= aliases:
                return Target(name, "production", "canary")
        return Target(names[0], registry.versions(names[0])[-1].version, None)

    def _load(self) -> Loaded:
        target = self.target or self._default_target()
        self.target = target
        start, end = self.session.view.window(RANGES[DIFF_RANGE])
        return load_diff(self.session, target.name, target.a, target.b, start, end)

    def _failed(self, error: BaseException) -> None:
        what = f"{self.target.name}@{self.target.a}" if self.target else "diff"
        self.query_one("#diff-title", Static).update(
            f"[b $error]cannot diff {escape(what)}:[/] {escape(describe(error))}"
        )

    def _show(self, loaded: Loaded) -> None:
        self.loaded = loaded
        d = loaded.diff
        view = self.query_one(DiffView)
        rows, hunks = rows_of(d)
        view.show(rows, hunks)
        kind = "chat, per message" if d.chat else "template"
        self.query_one("#diff-title", Static).update(
            f"[b]{escape(d.b.name)}[/] · v{escape(d.a.version)}{_aliases(d.a.aliases)} → "
            f"v{escape(d.b.version)}{_aliases(d.b.aliases)} · {kind} · {len(hunks)} hunks · "
            f"left older, right newer"
        )
        table = self.query_one("#diff-facts", DataTable)
        table.clear()
        table.add_row("commit", _short(d.a.description or "-"), _short(d.b.description or "-"), "")
        for label, changes in (("config.", d.config), ("", d.evals), ("tags.", d.tags)):
            for c in changes:
                if c.status != "equal":
                    table.add_row(f"{label}{c.key}", *_change(c))
        self._traffic(table, loaded)
        for problem in loaded.errors[:1]:
            self.notify(problem, severity="warning", timeout=6)
        self._status("n/p jump between hunks · e export to the workspace · c copy")
        view.focus()

    def _traffic(self, table: DataTable[str], loaded: Loaded) -> None:
        a = loaded.traffic.get(loaded.diff.a.version)
        b = loaded.traffic.get(loaded.diff.b.version)
        if a is None and b is None:
            table.add_row(f"traffic {DIFF_RANGE}", "no requests", "no requests", "")
            return
        rows = (
            ("requests", "requests", "{:,.0f}"),
            ("refusal rate", "refusal_rate", "pct"),
            ("cost/request", "cost_per_request", "${:.5f}"),
            ("p95 latency", "latency_p95_ms", "{:,.0f} ms"),
            ("output tokens", "output_tokens", "{:.0f}"),
        )
        for label, attr, fmt in rows:
            va = getattr(a, attr) if a else None
            vb = getattr(b, attr) if b else None
            table.add_row(f"{label} ({DIFF_RANGE})", _fmt(va, fmt), _fmt(vb, fmt), _ratio(va, vb))

    def _status(self, text: str) -> None:
        self.query_one("#diff-status", Static).update(text)

    def action_hunk(self, step: int) -> None:
        view = self.query_one(DiffView)
        index = view.jump(step)
        if index is None:
            self._status("no differences in the prompt text")
        else:
            self._status(f"hunk {index + 1} of {len(view.hunks)}")

    def _unified(self) -> str | None:
        if self.loaded is None:
            return None
        return unified(self.loaded.diff) or "# no differences\n"

    def action_export(self) -> None:
        text = self._unified()
        if text is None or self.loaded is None:
            return
        ws = self.session.profile.workspace
        d = self.loaded.diff
        folder = (ws or Path.cwd()) / "exports"
        file = folder / f"{_safe(d.b.name)}-v{_safe(d.a.version)}-v{_safe(d.b.version)}.diff"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(file, "w", encoding="utf-8", opener=private_opener) as fh:
                fh.write(text)
        except OSError as exc:
            self.notify(f"cannot write {file}: {exc.strerror}", severity="error")
            return
        self._status(f"unified diff written to {file}")
        self.notify(f"unified diff written to {file}", timeout=6)

    def action_copy(self) -> None:
        text = self._unified()
        if text is None:
            return
        self.app.copy_to_clipboard(text)
        lines = text.count("\n")
        self._status(f"unified diff ({lines} lines) copied to the clipboard (OSC 52 terminal)")

    def action_back(self) -> None:
        navigation.back(self.app)  # pushed: pop; shown by its number key: the screen before


def _aliases(aliases: tuple[str, ...]) -> str:
    return escape(f" [{', '.join(aliases)}]") if aliases else ""


def _short(value: Any) -> str:
    text = "-" if value is None else str(value)
    return escape(text if len(text) <= 40 else text[:39] + "…")


def _change(c: FieldChange) -> tuple[str, str, str]:
    mark = {"changed": "[b $warning]changed[/]", "added": "added", "removed": "removed"}
    return _short(c.before), _short(c.after), mark.get(c.status, "")


def _fmt(value: float | None, fmt: str) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.1f}%" if fmt == "pct" else fmt.format(value)


def _ratio(a: float | None, b: float | None) -> str:
    if not a or b is None:
        return ""
    r = b / a
    text = f"x{r:.2f}"
    return f"[b $error]{text}[/]" if r >= 1.5 or r <= 0.5 else text


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)
