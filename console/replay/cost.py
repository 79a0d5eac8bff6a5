"""Replay cost: estimated before anything is sent, checked against budgets.

Prices come from the profile's ``prices`` (``{model: {input_per_1k,
output_per_1k}}`` in dollars); budgets from its ``replay`` settings::

    replay: {per_replay: 0.50, per_batch: 5.00, similar_threshold: 0.8}

The estimate is an upper bound where it can be one: output tokens are the
request's ``max_tokens`` (what the model may spend), input tokens the logged
count (scaled by text length when the prompt was re-rendered, else about four
characters per token). A model without a price costs $0 and says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.records import RequestRecord
from console.core.config import Profile
from console.core.errors import ConfigError, LlmdeckError
from console.replay.fidelity import DEFAULT_SIMILAR
from console.replay.request import ReplayRequest

DEFAULT_PER_REPLAY = 0.50
DEFAULT_PER_BATCH = 5.00


class BudgetExceeded(LlmdeckError):
    """The estimated cost is above the cap; nothing was sent."""


@dataclass(frozen=True)
class ReplaySettings:
    """Budgets in dollars and the similarity threshold of a profile."""

    per_replay: float = DEFAULT_PER_REPLAY
    per_batch: float = DEFAULT_PER_BATCH
    similar_threshold: float = DEFAULT_SIMILAR
    prices: Mapping[str, Mapping[str, Any]] | None = None


def settings(profile: Profile) -> ReplaySettings:
    """The profile's replay settings. Raises ConfigError naming the bad key."""
    raw = profile.settings.get("replay") or {}
    where = f"{profile.source or 'profile'}: profiles.{profile.name}.replay"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    values: dict[str, float] = {}
    for key, default in (
        ("per_replay", DEFAULT_PER_REPLAY),
        ("per_batch", DEFAULT_PER_BATCH),
        ("similar_threshold", DEFAULT_SIMILAR),
    ):
        value = raw.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}.{key}: must be a non-negative number")
        values[key] = float(value)
    unknown = set(raw) - set(values)
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    prices = profile.settings.get("prices") or {}
    return ReplaySettings(**values, prices=prices if isinstance(prices, dict) else {})


@dataclass(frozen=True)
class Estimate:
    tokens_in: int
    tokens_out: int
    usd: float
    priced: bool  # False when the model has no price in the profile


def _price(prices: Mapping[str, Any] | None, model: str) -> tuple[float, float] | None:
    entry = (prices or {}).get(model)
    if not isinstance(entry, Mapping):
        return None
    try:
        return float(entry.get("input_per_1k", 0)), float(entry.get("output_per_1k", 0))
    except (TypeError, ValueError):
        return None


def cost(prices: Mapping[str, Any] | None, model: str, tokens_in: int, tokens_out: int) -> float:
    """Dollars for the given token counts at ``model``'s price ($0 if unpriced)."""
    price = _price(prices, model)
    if price is None:
        return 0.0
    return tokens_in / 1000 * price[0] + tokens_out / 1000 * price[1]


def _chars(messages: Any) -> int:
    return sum(len(str(m.get("content") or "")) for m in messages)


def estimate(
    request: ReplayRequest,
    record: RequestRecord,
    prices: Mapping[str, Any] | None,
    repeat: int = 1,
) -> Estimate:
    """Upper-bound cost of sending ``request`` ``repeat`` times."""
    new_chars = _chars(request.messages)
    if record.tokens_in and record.has_content:
        old_chars = max(_chars(record.messages), 1)
        tokens_in = math.ceil(record.tokens_in * new_chars / old_chars)
    else:
        tokens_in = math.ceil(new_chars / 4) + 4 * len(request.messages)
    cap = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
    tokens_out = int(cap) if isinstance(cap, int | float) else max(2 * record.tokens_out, 256)
    tokens_in, tokens_out = tokens_in * repeat, tokens_out * repeat
    usd = cost(prices, request.model, tokens_in, tokens_out)
    return Estimate(tokens_in, tokens_out, usd, _price(prices, request.model) is not None)


def check_replay(est: Estimate, cap: float) -> None:
    """Raises BudgetExceeded when one replay's estimate is above ``cap`` dollars."""
    if est.usd > cap:
        raise BudgetExceeded(
            f"refused: estimated ${est.usd:.4f} is above the per-replay budget ${cap:.4f}"
        )


def check_batch(total_usd: float, cap: float, n: int) -> None:
    """Raises BudgetExceeded when a batch's estimate is above ``cap`` dollars."""
    if total_usd > cap:
        raise BudgetExceeded(
            f"refused: {n} replays estimated at ${total_usd:.4f}, above the per-batch "
            f"budget ${cap:.4f}; narrow the filter or raise the budget"
        )
