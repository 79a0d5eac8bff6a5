"""The console's clock, frozen in tests and snapshots so they are deterministic."""

from __future__ import annotations

import os
from datetime import UTC, datetime

_frozen: datetime | None = None


def freeze(at: datetime | None) -> None:
    """Make ``now()`` return ``at`` (None thaws it)."""
    global _frozen
    _frozen = at


def now() -> datetime:
    """The current time, UTC (``$LLMDECK_FROZEN_TIME``, ISO 8601, freezes it too)."""
    if _frozen is not None:
        return _frozen
    env = os.environ.get("LLMDECK_FROZEN_TIME")
    if env:
        return datetime.fromisoformat(env.replace("Z", "+00:00"))
    return datetime.now(UTC)
