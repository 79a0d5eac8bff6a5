"""Burn rates over sliding windows and the alert lifecycle they imply, on a
regular grid of steps (pure arithmetic: the engine feeds it the series).

A grid holds, per step, the requests counted and the bad ones (for a budget:
dollars spent and dollars allowed). The burn over a window ending at step ``i``
is (bad in the window / requests in the window) / allowed share, read from
cumulative sums, so every step of a six-hour trace costs the same as one.
Evaluating the whole trace, not only "now", is what gives an alert its onset:
the first step of the run of steps in which the condition held.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


def cumulative(values: Sequence[float]) -> list[float]:
    return [0.0, *itertools.accumulate(values)]


def window_burn(
    c_total: Sequence[float],
    c_bad: Sequence[float],
    i: int,
    steps: int,
    allowed: float,
    min_total: float = 0.0,
) -> float | None:
    """Burn over the ``steps`` steps ending with step ``i`` (0-based), from
    cumulative sums (``c[k]`` = sum of the first k steps). None when the window
    holds fewer than ``min_total`` requests, or none: nothing to judge."""
    hi = i + 1
    lo = max(0, hi - steps)
    total = c_total[hi] - c_total[lo]
    if total <= 0 or total < min_total:
        return None
    return (c_bad[hi] - c_bad[lo]) / total / allowed


def spend_burn(c_spent: Sequence[float], i: int, steps: int, allowed_per_step: float) -> float:
    """A budget's burn: dollars spent in the window over dollars it allows."""
    hi = i + 1
    lo = max(0, hi - steps)
    return (c_spent[hi] - c_spent[lo]) / (allowed_per_step * steps)


@dataclass(frozen=True)
class Run:
    """The latest run of steps in which a condition held (gaps up to
    ``keep`` steps bridged). ``start``/``end`` are step indexes, ``end``
    inclusive; ``open`` when it still holds at the last step."""

    start: int
    end: int
    open: bool


def latest_run(holds: Sequence[bool], keep: int = 0) -> Run | None:
    """The latest run of True in ``holds``, bridging gaps of at most ``keep``
    steps (a dip that short does not resolve an alert). ``open`` when the run
    reaches the last step or the gap after it is still within ``keep``."""
    last = None
    for i in range(len(holds) - 1, -1, -1):
        if holds[i]:
            last = i
            break
    if last is None:
        return None
    start = last
    gap = 0
    for i in range(last - 1, -1, -1):
        if holds[i]:
            start = i
            gap = 0
        else:
            gap += 1
            if gap > keep:
                break
    trailing = len(holds) - 1 - last
    return Run(start, last, trailing <= keep)
