"""Drift statistics: population stability index, the two-proportion z-test and
Welch's t-test.

Plain Python on sequences, so they are cheap to test against known
distributions; the report that feeds them lives in ``console.drift.report``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Added to every bin share so an empty bin contributes a large but finite term.
EPSILON = 1e-4


def psi(baseline: Sequence[float], current: Sequence[float], bins: int = 10) -> float:
    """Population stability index of ``current`` against ``baseline`` (>= 0).

    Bin edges are the baseline's deciles (``bins`` quantile bins), the usual
    convention: 0.1 is a small shift, 0.25 a large one. Returns 0.0 when
    either sample is empty (nothing to compare).
    """
    if not baseline or not current:
        return 0.0
    ordered = sorted(baseline)
    edges = sorted(
        {ordered[min(len(ordered) - 1, int(len(ordered) * i / bins))] for i in range(1, bins)}
    )
    return _psi_counts(_histogram(ordered, edges), _histogram(current, edges))


def psi_categorical(baseline: Mapping[str, int], current: Mapping[str, int]) -> float:
    """PSI over categories (for example the finish-reason mix). 0.0 when either is empty."""
    keys = sorted(set(baseline) | set(current))
    return _psi_counts([baseline.get(k, 0) for k in keys], [current.get(k, 0) for k in keys])


def _histogram(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[bisect.bisect_right(edges, v)] += 1
    return counts


def _psi_counts(expected: Sequence[int], actual: Sequence[int]) -> float:
    n_e, n_a = sum(expected), sum(actual)
    if n_e == 0 or n_a == 0:
        return 0.0
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe = max(e / n_e, EPSILON)
        pa = max(a / n_a, EPSILON)
        total += (pa - pe) * math.log(pa / pe)
    return total


@dataclass(frozen=True)
class ZTest:
    """A two-proportion z-test: ``z`` > 0 when the current rate is higher."""

    z: float
    p_value: float


def two_proportion_z(x_base: int, n_base: int, x_cur: int, n_cur: int) -> ZTest:
    """Pooled two-proportion z-test of ``x_cur/n_cur`` against ``x_base/n_base``.

    Returns z = 0, p = 1 when a sample is empty or the pooled rate is 0 or 1
    (no variance: nothing can be concluded). Raises ValueError for counts out
    of range.
    """
    for x, n in ((x_base, n_base), (x_cur, n_cur)):
        if n < 0 or x < 0 or x > n:
            raise ValueError(f"bad proportion {x}/{n}")
    if n_base == 0 or n_cur == 0:
        return ZTest(0.0, 1.0)
    pooled = (x_base + x_cur) / (n_base + n_cur)
    var = pooled * (1 - pooled) * (1 / n_base + 1 / n_cur)
    if var <= 0:
        return ZTest(0.0, 1.0)
    z = (x_cur / n_cur - x_base / n_base) / math.sqrt(var)
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True)
class TTest:
    """Welch's t-test: ``t`` > 0 when the current mean is higher; ``df`` the
    Welch-Satterthwaite degrees of freedom; ``p_value`` None when not cheap."""

    t: float
    df: float
    p_value: float | None


# From this many degrees of freedom on, Student's t is close enough to the
# normal for a two-sided p-value (at |t| = 2 the two differ by under 0.005);
# below it no p-value is given rather than a wrong one (scipy is no dependency).
NORMAL_DF = 30.0


def welch_t(
    mean_base: float, var_base: float, n_base: int, mean_cur: float, var_cur: float, n_cur: int
) -> TTest:
    """Welch's unequal-variance t-test of the current mean against the baseline.

    Returns t = 0, p = 1 when a sample has fewer than 2 values or both
    variances are 0 (nothing can be concluded). Raises ValueError for a
    negative variance or count.
    """
    if min(var_base, var_cur) < 0 or min(n_base, n_cur) < 0:
        raise ValueError("variances and counts must be >= 0")
    if n_base < 2 or n_cur < 2:
        return TTest(0.0, 0.0, 1.0)
    a, b = var_base / n_base, var_cur / n_cur
    if a + b <= 0:
        return TTest(0.0, 0.0, 1.0)
    t = (mean_cur - mean_base) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (n_base - 1) + b * b / (n_cur - 1))
    p = math.erfc(abs(t) / math.sqrt(2)) if df >= NORMAL_DF else None
    return TTest(t, df, p)


STATUS_RANK = {"alert": 3, "warn": 2, "ok": 1, "low data": 0}
