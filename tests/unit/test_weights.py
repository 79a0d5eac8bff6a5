"""Property tests for variant weights: parsing, validation, the share of
traffic a change moves, and the conversion to Unleash's weights out of 1000."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import InvalidChange, NotFound
from connectors.flags.unleash import _unleash_variants
from console.actions.blast import moving_share
from console.actions.changes import parse_weights, validate_weights


@st.composite
def splits(draw: st.DrawFn) -> dict[str, float]:
    """2-6 variants whose weights are in 0.1% steps and add up to 100."""
    n = draw(st.integers(2, 6))
    cuts = sorted(draw(st.lists(st.integers(0, 1000), min_size=n - 1, max_size=n - 1)))
    bounds = [0, *cuts, 1000]
    return {f"v{i}": (bounds[i + 1] - bounds[i]) / 10 for i in range(n)}


@given(splits())
def test_valid_splits_pass_unchanged(weights: dict[str, float]) -> None:
    assert validate_weights("f", weights, weights) == weights


@given(splits(), st.floats(0.2, 50))
def test_splits_that_do_not_add_up_are_refused(weights: dict[str, float], extra: float) -> None:
    bad = {**weights, "v0": weights["v0"] + extra}
    with pytest.raises(InvalidChange, match="add up to"):
        validate_weights("f", weights, bad)


@given(splits(), splits())
def test_moving_share_is_a_fraction_symmetric_and_zero_for_no_change(
    a: dict[str, float], b: dict[str, float]
) -> None:
    assert 0.0 <= moving_share(a, b) <= 1.0
    assert moving_share(a, b) == pytest.approx(moving_share(b, a))
    assert moving_share(a, a) == 0.0


@given(splits())
def test_unleash_weights_are_exact_and_keep_one_variable_variant(
    weights: dict[str, float],
) -> None:
    current = [{"name": n, "weight": 0, "stickiness": "default"} for n in weights]
    out = _unleash_variants(current, weights)
    assert sum(v["weight"] for v in out) == 1000
    assert [v["weightType"] for v in out].count("variable") == 1
    assert {v["name"]: v["weight"] / 10 for v in out} == weights


def test_parse_and_unknown_variant() -> None:
    assert parse_weights(["v13=90", "v14=10"]) == {"v13": 90.0, "v14": 10.0}
    with pytest.raises(InvalidChange, match="expected NAME=PERCENT"):
        parse_weights(["v13:90"])
    with pytest.raises(NotFound, match="unknown variant 'v9'"):
        validate_weights("f", {"v1": 50, "v2": 50}, {"v9": 100})
    with pytest.raises(InvalidChange, match=">= 0"):
        validate_weights("f", {"v1": 50, "v2": 50}, {"v1": 110, "v2": -10})
