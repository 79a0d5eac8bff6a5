"""A side-by-side diff that draws only the lines on screen.

Rows come from ``console.diff.compare`` (a template diff, or each chat message's diff
under a header row). Only the visible rows are turned into strips, so a
5,000-line template costs the same to scroll as a 50-line one. Colours come
from component classes styled in ``diff.tcss`` with theme variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment as RichSegment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.diff.compare import DiffLine, MessageDiff, Segment, VersionDiff

NO_WIDTH = 5  # line-number gutter


@dataclass(frozen=True, slots=True)
class Header:
    """A row naming the chat message whose lines follow."""

    text: str
    status: str


Row = DiffLine | Header


def rows_of(diff: VersionDiff) -> tuple[list[Row], list[int]]:
    """The rows to draw and the index of each hunk's first row."""
    if diff.template is not None:
        return list(diff.template.lines), list(diff.template.hunks)
    rows: list[Row] = []
    hunks: list[int] = []
    for m in diff.messages:
        if m.status != "equal":
            hunks.append(len(rows))
        rows.append(Header(_header(m), m.status))
        start = len(rows)
        rows.extend(m.text.lines)
        if m.status == "equal":
            hunks.extend(start + h for h in m.text.hunks)
    return rows, hunks


def _header(m: MessageDiff) -> str:
    where = {
        "moved": f"moved from #{(m.left_index or 0) + 1} to #{(m.right_index or 0) + 1}",
        "added": "added",
        "removed": "removed",
        "changed": "changed"
        + (
            f", was #{(m.left_index or 0) + 1}"
            if m.left_index is not None and m.left_index != m.right_index
            else ""
        ),
        "equal": "unchanged",
    }[m.status]
    pos = m.right_index if m.right_index is not None else m.left_index
    return f"#{(pos or 0) + 1} {m.role} · {where}"


class DiffView(ScrollView, can_focus=True):
    """Two columns, older version left, long lines wrapped; ``jump`` moves between hunks.

    Wrapping is computed per width into a display index (row, chunk), a cheap
    pass over the rows, so rendering stays proportional to the visible lines.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff--lineno",
        "diff--removed",
        "diff--added",
        "diff--removed-word",
        "diff--added-word",
        "diff--header",
        "diff--current",
        "diff--gap",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []
        self.hunks: list[int] = []
        self.current_hunk: int | None = None
        self._display: list[tuple[int, int]] = []  # (row index, wrapped chunk)
        self._first: list[int] = []  # first display line of each row
        self._room = 0

    def show(self, rows: list[Row], hunks: list[int]) -> None:
        """Replace the content and go to the top."""
        self.rows, self.hunks = rows, hunks
        self.current_hunk = None
        self._room = 0
        self._layout_rows()
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def _half(self, width: int) -> tuple[int, int]:
        left = (width - 1) // 2
        return left, width - 1 - left

    def _layout_rows(self) -> None:
        width = self.scrollable_content_region.width or self.size.width or 160
        left, right = self._half(width)
        room = max(1, min(left, right) - NO_WIDTH)
        if room == self._room and len(self._first) == len(self.rows):
            return
        self._room = room
        display: list[tuple[int, int]] = []
        first: list[int] = []
        for i, row in enumerate(self.rows):
            first.append(len(display))
            n = 1
            if isinstance(row, DiffLine):
                longest = max(_length(row.left), _length(row.right))
                n = max(1, -(-longest // room))
            display.extend((i, k) for k in range(n))
        self._display, self._first = display, first
        self.virtual_size = Size(0, len(display))

    def on_resize(self) -> None:
        self._layout_rows()

    def jump(self, step: int) -> int | None:
        """Go to the next (``step=1``) or previous (``-1``) hunk; returns its number."""
        if not self.hunks:
            return None
        if self.current_hunk is None:
            index = 0 if step > 0 else len(self.hunks) - 1
        else:
            index = (self.current_hunk + step) % len(self.hunks)
        self.current_hunk = index
        self._layout_rows()
        self.scroll_to(0, max(0, self._first[self.hunks[index]] - 2), animate=False)
        self.refresh()
        return index

    def _hunk_range(self) -> range:
        if self.current_hunk is None:
            return range(0)
        start = self.hunks[self.current_hunk]
        end = start
        while end < len(self.rows) and _changed(self.rows[end]):
            end += 1
        return range(start, max(end, start + 1))

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if index >= len(self._display):
            return Strip.blank(width, self.rich_style)
        row_index, chunk = self._display[index]
        row = self.rows[row_index]
        if isinstance(row, Header):
            style = self.get_component_rich_style("diff--header")
            return Strip([RichSegment(row.text.ljust(width)[:width], style)], width)
        half, right_width = self._half(width)
        current = row_index in self._hunk_range()
        left = self._side(
            row.left_no, row.left, row.tag in ("delete", "replace"), False, half, chunk
        )
        right = self._side(
            row.right_no, row.right, row.tag in ("insert", "replace"), True, right_width, chunk
        )
        bar = "▌" if current else "│"
        bar_style = self.get_component_rich_style("diff--current" if current else "diff--gap")
        return Strip([*left, RichSegment(bar, bar_style), *right], width)

    def _side(
        self,
        number: int | None,
        segments: tuple[Segment, ...],
        changed: bool,
        added: bool,
        width: int,
        chunk: int,
    ) -> list[RichSegment]:
        base = self.rich_style
        if changed:
            base = self.get_component_rich_style("diff--added" if added else "diff--removed")
        word = self.get_component_rich_style("diff--added-word" if added else "diff--removed-word")
        gutter = self.get_component_rich_style("diff--lineno")
        label = f"{number:>{NO_WIDTH - 1}} " if number and chunk == 0 else " " * NO_WIDTH
        out = [RichSegment(label, gutter)]
        room = max(0, width - NO_WIDTH)
        lo, hi = chunk * self._room, (chunk + 1) * self._room
        pos = used = 0
        for seg in segments:
            text = seg.text.replace("\t", "    ")
            end = pos + len(text)
            if end > lo and pos < hi:
                piece = text[max(0, lo - pos) : hi - pos][: room - used]
                style: Style = base + word if seg.changed and changed else base
                out.append(RichSegment(piece, style))
                used += len(piece)
            pos = end
        if number is None and not segments:
            base = self.get_component_rich_style("diff--gap")
        out.append(RichSegment(" " * max(0, room - used), base))
        return out


def _length(segments: tuple[Segment, ...]) -> int:
    return sum(len(s.text.replace("\t", "    ")) for s in segments)


def _changed(row: Row) -> bool:
    return (isinstance(row, Header) and row.status != "equal") or (
        isinstance(row, DiffLine) and row.tag != "equal"
    )
