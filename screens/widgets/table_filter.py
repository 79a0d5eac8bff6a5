"""``/`` on a table screen: a box for words that every shown row must contain.

Hidden until ``open()``; enter applies the words and hands them to
``on_apply`` (the screen renders its rows again through ``matches``), escape
with the box focused clears them. The screen keeps its full data and shows
only what matches, so a refresh keeps the filter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


def matches(words: str, cells: Iterable[object]) -> bool:
    """True when every word of ``words`` occurs in one of ``cells`` (any case)."""
    wanted = words.lower().split()
    if not wanted:
        return True
    text = " ".join(str(c) for c in cells).lower()
    return all(w in text for w in wanted)


class TableFilter(Input):
    """The filter box; ``words`` is what the table shows now ('' for all)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter")]

    def __init__(self, table: str, on_apply: Callable[[str], None]) -> None:
        super().__init__(placeholder="filter: words that every row must contain")
        self.add_class("table-filter")
        self.table = table  # the selector of the table it filters: focused when done
        self.on_apply = on_apply
        self.words = ""

    def open(self) -> None:
        self.value = self.words
        self.add_class("-open")
        self.focus()

    def _close(self) -> None:
        self.remove_class("-open")
        self.screen.query_one(self.table).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.words = event.value.strip()
        self._close()
        self.on_apply(self.words)

    def action_clear(self) -> None:
        self.words = self.value = ""
        self._close()
        self.on_apply("")
