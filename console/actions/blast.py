"""Blast radius: how much of the current traffic a change touches, from the
workspace request log's per-minute rollup over the last hour (a few
milliseconds, never a scan of the request table)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import timedelta

from console.actions.plan import Blast
from console.core import clock

WINDOW = timedelta(hours=1)
_DIMS = ("route", "model_name", "prompt_id", "prompt_version")


class Traffic:
    """Request counts over the last hour, by route, model and prompt version.

    Built with ``store=None`` when the profile has no workspace: every blast
    radius is then unknown rather than an error.
    """

    def __init__(self, store: sqlite3.Connection | None) -> None:
        self.store = store
        self.window_s = int(WINDOW.total_seconds())
        self._total: int | None = None

    def _since(self) -> int:
        # rollup_minute.bucket is unix seconds at the start of the minute.
        return int((clock.now() - WINDOW).timestamp())

    def total(self) -> int:
        if self._total is None:
            self._total = self.count({})
        return self._total

    def count(self, where: Mapping[str, str]) -> int:
        """Requests in the window matching ``where`` (rollup dimension -> value)."""
        if self.store is None:
            return 0
        unknown = set(where) - set(_DIMS)
        if unknown:
            raise ValueError(f"not a rollup dimension: {sorted(unknown)[0]}")
        sql = "SELECT COALESCE(SUM(n), 0) FROM rollup_minute WHERE bucket >= ?"
        params: list[object] = [self._since()]
        for dim, value in where.items():
            sql += f" AND {dim} = ?"
            params.append(value)
        try:
            return int(self.store.execute(sql, params).fetchone()[0])
        except sqlite3.Error:
            return 0

    def blast(self, where: Mapping[str, str], fraction: float, basis: str) -> Blast:
        """``fraction`` of the requests matching ``where``, as a Blast."""
        if self.store is None:
            return Blast(-1, 0, "no workspace request log", self.window_s)
        if not where:
            return Blast(-1, self.total(), basis, self.window_s)
        return Blast(self.count(where) * fraction, self.total(), basis, self.window_s)


def moving_share(before: Mapping[str, float], after: Mapping[str, float]) -> float:
    """The fraction of traffic that changes variant when weights (percent)
    go from ``before`` to ``after``: half the total absolute change."""
    names = set(before) | set(after)
    moved = sum(abs(float(after.get(n, 0.0)) - float(before.get(n, 0.0))) for n in names) / 2
    return min(1.0, moved / 100.0)
