"""Drift statistics against known distributions, and the demo's drift report."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core import clock
from console.core.session import Session
from console.core.settings import Thresholds
from console.core.spans import parse_span
from console.drift.report import compute, load_frame
from console.drift.stats import psi, psi_categorical, two_proportion_z


def test_psi_of_the_same_distribution_is_near_zero() -> None:
    rng = random.Random(1)
    a = [rng.gauss(0, 1) for _ in range(20_000)]
    b = [rng.gauss(0, 1) for _ in range(20_000)]
    assert psi(a, b) < 0.01


def test_psi_of_a_shifted_normal_matches_theory() -> None:
    # For N(0,1) vs N(mu,1), PSI tends to mu^2 (the symmetric KL divergence);
    # decile binning captures most of it: 0.5 sd -> about 0.22-0.25.
    rng = random.Random(2)
    a = [rng.gauss(0, 1) for _ in range(50_000)]
    b = [rng.gauss(0.5, 1) for _ in range(50_000)]
    value = psi(a, b)
    assert 0.18 < value < 0.25
    assert Thresholds().status_psi(value) == "warn"
    assert Thresholds().status_psi(psi(a, [x + 1.0 for x in b])) == "alert"


def test_psi_categorical_known_value() -> None:
    # (0.5-0.8)ln(0.5/0.8) + (0.5-0.2)ln(0.5/0.2)
    expected = -0.3 * math.log(0.5 / 0.8) + 0.3 * math.log(0.5 / 0.2)
    assert psi_categorical({"stop": 80, "length": 20}, {"stop": 50, "length": 50}) == pytest.approx(
        expected
    )


def test_two_proportion_z_known_value() -> None:
    # 10/100 vs 20/100: pooled 0.15, se = sqrt(0.15 * 0.85 * 0.02)
    t = two_proportion_z(10, 100, 20, 100)
    assert t.z == pytest.approx(0.1 / math.sqrt(0.15 * 0.85 * 0.02))
    assert t.p_value == pytest.approx(math.erfc(t.z / math.sqrt(2)))
    assert 0.04 < t.p_value < 0.05  # z = 1.98


def test_two_proportion_z_edge_cases() -> None:
    assert two_proportion_z(0, 0, 5, 10).z == 0.0
    assert two_proportion_z(0, 10, 0, 10).z == 0.0  # no variance
    with pytest.raises(ValueError, match="bad proportion 11/10"):
        two_proportion_z(11, 10, 0, 10)


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200),
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200),
)
@settings(max_examples=200, deadline=None)
def test_psi_is_non_negative_and_zero_on_itself(a: list[float], b: list[float]) -> None:
    assert psi(a, b) >= 0.0
    assert psi(a, a) == pytest.approx(0.0, abs=1e-12)


@given(
    st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_z_sign_follows_the_rates(base: tuple[int, int], cur: tuple[int, int]) -> None:
    t = two_proportion_z(*base, *cur)
    diff = cur[0] / cur[1] - base[0] / base[1]
    assert 0.0 <= t.p_value <= 1.0
    if t.z != 0.0:
        assert (t.z > 0) == (diff > 0)
    swapped = two_proportion_z(*cur, *base)
    assert swapped.z == pytest.approx(-t.z)


def test_thresholds_from_settings() -> None:
    th = Thresholds.from_settings({"psi_alert": 0.3, "current": "2h"})
    assert th.psi_alert == 0.3 and th.current == "2h"
    with pytest.raises(ValueError, match=r"drift\.psi_alrt: unknown key"):
        Thresholds.from_settings({"psi_alrt": 1})
    with pytest.raises(ValueError, match=r"drift\.z_warn: expected a float"):
        Thresholds.from_settings({"z_warn": "high"})
    with pytest.raises(ValueError, match="bad window"):
        parse_span("yesterday")


def test_demo_incident_is_the_top_alert(demo_session: Session) -> None:
    report = compute(demo_session, "prompt_version")
    top = report.rows[0]
    assert top.group == "support-answer@14" and top.status == "alert"
    # Issue 17 defect 7: the refusal alert leads, not the cost and length drifts
    # whose PSI is several times its threshold.
    assert top.signal == "refusal_rate", [(r.group, r.signal) for r in report.rows[:7]]
    refusal = next(
        r for r in report.rows if r.group == "support-answer@14" and r.signal == "refusal_rate"
    )
    assert refusal.status == "alert" and refusal.statistic > 5
    assert refusal.current is not None and refusal.baseline is not None
    assert refusal.current > 3 * refusal.baseline
    steady = next(
        r for r in report.rows if r.group == "support-answer@13" and r.signal == "refusal_rate"
    )
    assert steady.status == "ok"


def test_drift_json_prints_the_screen_rows(
    demo_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    demo_session: Session,
) -> None:
    from console.cli import main

    monkeypatch.setenv("LLMDECK_FROZEN_TIME", "2026-11-29T12:00:00Z")
    assert main(["--config", str(demo_dir / "llmdeck.yaml"), "drift", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = compute(demo_session, "prompt_version").to_dict()
    assert data == json.loads(json.dumps(expected, default=str))
    assert data["rows"][0]["group"] == "support-answer@14"


def _blocks_store(tmp_path: Path) -> Any:
    """A session stub on a workspace whose last hour holds both kinds of blocked records: policy
    blocks (with ``safety.decision``, as in the baseline) and kill-switch blocks
    (no safety decision: the request never reached the policy)."""
    from connectors.records import RequestRecord
    from connectors.workspace.store import insert_records
    from console.core.session import open_store

    now = clock.now()
    policy = {"policy_version": "p1", "decision": "block", "reasons": ["pii.email_address"]}
    allow = {"policy_version": "p1", "decision": "allow", "reasons": []}

    def rec(i: int, minutes_ago: float, kind: str) -> RequestRecord:
        blocked = kind != "ok"
        return RequestRecord(
            request_id=f"r{i}",
            ts=now - timedelta(minutes=minutes_ago),
            route="/support/chat",
            tenant="t1",
            model_name="m",
            prompt_id="p",
            prompt_version="1",
            status="blocked" if blocked else "ok",
            # Not the demo's "kill switch on ..." wording: another gateway words it its
            # own way, and only the missing safety decision tells the two apart.
            error={"policy": "blocked by policy", "kill": "route disabled: kill-chat"}.get(kind),
            safety={"policy": policy, "ok": allow}.get(kind),
        )

    records = [rec(i, 120 + i, "policy" if i % 50 == 0 else "ok") for i in range(400)]
    # The current hour: the same 2% of policy blocks, then a kill switch tripped.
    records += [rec(1000 + i, 50 - i * 0.1, "policy" if i % 50 == 0 else "ok") for i in range(200)]
    records += [rec(2000 + i, 5 - i * 0.01, "kill") for i in range(200)]
    conn = open_store(tmp_path)
    insert_records(conn, records)
    from console.core.viewtime import ViewTime

    return SimpleNamespace(
        store=lambda: conn, profile=SimpleNamespace(settings={}), view=ViewTime()
    )


def test_kill_switch_blocks_are_not_safety_blocks(tmp_path: Path, frozen_clock: datetime) -> None:
    session = _blocks_store(tmp_path)
    frame = load_frame(session, "route", clock.now() - timedelta(hours=1), clock.now())
    assert len(frame) == 400
    assert int(frame["is_blocked"].sum()) == 4  # the policy blocks, not the 200 kill-switch ones
    report = compute(session, "route")
    rate = next(r for r in report.rows if r.signal == "block_rate")
    assert rate.current == pytest.approx(4 / 400)  # 4 policy blocks in 400 current requests
    assert rate.status == "ok", rate
