"""The write pipeline on the demo workspace (flagd file + files registry):
plans with blast radius, production confirmation, every outcome audited,
read-only refusal of every change, conflicts, bad files, break-glass, the
merged audit trail and the CLI."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from connectors.flags.flagd import FlagdFile
from console.actions import (
    BlockModel,
    Confirmation,
    MoveAlias,
    Pipeline,
    RollbackRoute,
    SetEnabled,
    SetWeights,
)
from console.actions.breakglass import leave_read_only
from console.actions.pipeline import ActionError
from console.audit import trail as audit_log
from console.cli import main
from console.core.session import Session
from tests.conftest import demo_profile

FLAG = "support-answer-rollout"
OK = Confirmation(True, reason="refusals up 4x on v14")


def _session(ws: Path, name: str = "demo", read_only: bool | None = None) -> Session:
    return Session(demo_profile(ws, name), read_only=read_only)


def _audit(session: Session) -> list[tuple[str, str, str]]:
    return (
        session.store()
        .execute("SELECT action, target, outcome FROM audit WHERE who != 'deploy-bot' ORDER BY id")
        .fetchall()
    )


def _weights(ws: Path) -> list[list[object]]:
    return json.loads((ws / "flags.json").read_text())["flags"][FLAG]["targeting"]["fractional"]


def test_rollback_plans_every_change_with_its_blast_radius(
    demo_copy: Path, frozen_clock: datetime
) -> None:
    session = _session(demo_copy)
    pipeline = Pipeline(session)
    plan = pipeline.plan(RollbackRoute("/support/chat"))
    assert [(s.action, s.target) for s in plan.steps] == [
        ("set_weights", FLAG),
        ("move_alias", "support-answer:canary"),
    ]
    assert plan.steps[0].before["weights"] == {"v13": 50.0, "v14": 50.0}
    assert plan.steps[0].after["weights"] == {"v13": 100.0, "v14": 0.0}
    assert (plan.steps[1].before, plan.steps[1].after) == ("14", "13")
    # /support/chat is half the traffic; half of it moves: about a quarter.
    assert plan.blast.share is not None and 0.18 < plan.blast.share < 0.32
    outcome = pipeline.execute(plan, OK)
    assert outcome.status == "done", outcome.message
    assert _weights(demo_copy) == [["v13", 100], ["v14", 0]]
    registry = yaml.safe_load((demo_copy / "prompts" / "support-answer.yaml").read_text())
    assert registry["aliases"]["canary"] == "13"
    row = (
        session.store()
        .execute(
            "SELECT who, profile, environment, outcome, before, after, reason FROM audit "
            "ORDER BY id DESC LIMIT 1"
        )
        .fetchone()
    )
    assert row[1:4] == ("demo", "development", "done") and row[0]
    assert json.loads(row[4])[FLAG]["weights"]["v14"] == 50.0
    assert json.loads(row[5])["support-answer:canary"] == "13"
    assert row[6] == OK.reason
    # The new state is in the history; the canary (50/50) before it is never "good",
    # so a second rollback has nothing to do instead of flipping to v14.
    with pytest.raises(ActionError, match="nothing to roll back"):
        pipeline.plan(RollbackRoute("/support/chat"))


def test_production_needs_the_typed_name_and_a_reason(
    demo_copy: Path, frozen_clock: datetime
) -> None:
    session = _session(demo_copy, "demo-production", read_only=False)
    pipeline = Pipeline(session)
    plan = pipeline.plan(SetEnabled("kill-support-chat", True))
    assert plan.production and set(plan.confirm_words) == {"kill-support-chat", "production"}
    before = (demo_copy / "flags.json").read_bytes()
    wrong = pipeline.execute(plan, Confirmation(True, reason="x", typed="kill-support"))
    no_reason = pipeline.execute(plan, Confirmation(True, typed="kill-support-chat"))
    cancelled = pipeline.execute(plan, Confirmation(False))
    assert (wrong.status, no_reason.status, cancelled.status) == ("refused", "refused", "cancelled")
    assert "type 'kill-support-chat' or 'production'" in wrong.message
    assert (demo_copy / "flags.json").read_bytes() == before
    done = pipeline.execute(plan, Confirmation(True, reason="static fallback", typed="production"))
    assert done.status == "done"
    assert (
        FlagdFile(path=demo_copy / "flags.json").flag("kill-support-chat").environments[0].enabled
    )
    assert [o for _, _, o in _audit(session)] == ["refused", "refused", "cancelled", "done"]


CHANGES = [
    SetEnabled("kill-support-chat", True),
    SetWeights(FLAG, {"v13": 90, "v14": 10}),
    MoveAlias("support-answer", "production", "12"),
    BlockModel("claude-3-5-haiku"),
    RollbackRoute("/support/chat"),
]


def test_read_only_refuses_every_change_and_audits_it(
    demo_copy: Path, frozen_clock: datetime
) -> None:
    session = _session(demo_copy, "demo-production")  # production: read-only by default
    assert session.read_only
    pipeline = Pipeline(session)
    files = {p: p.read_bytes() for p in [demo_copy / "flags.json", *demo_copy.glob("prompts/*")]}
    for change in CHANGES:
        outcome = pipeline.run(change, lambda plan: OK)
        assert outcome.status == "refused" and "read-only" in outcome.message
        assert pipeline.execute(pipeline.plan(change), OK).status == "refused"
    assert _audit(session) == [(c.action, c.target, "refused") for c in CHANGES for _ in range(2)]
    assert all(p.read_bytes() == content for p, content in files.items())


def test_a_concurrent_change_to_the_target_is_a_conflict_to_another_flag_is_kept(
    demo_copy: Path, frozen_clock: datetime
) -> None:
    session = _session(demo_copy)
    pipeline = Pipeline(session)
    plan = pipeline.plan(SetWeights(FLAG, {"v13": 90, "v14": 10}))
    other = FlagdFile(path=demo_copy / "flags.json", environment="development")
    other.set_weights(FLAG, "development", {"v13": 70, "v14": 30}, expected=other.flag(FLAG))
    outcome = pipeline.execute(plan, OK)
    assert outcome.status == "conflict" and "changed since the plan" in outcome.message
    assert _weights(demo_copy) == [["v13", 70], ["v14", 30]]

    plan = pipeline.plan(SetWeights(FLAG, {"v13": 90, "v14": 10}))
    other.set_enabled(
        "kill-claude-3-5-haiku", "development", True, expected=other.flag("kill-claude-3-5-haiku")
    )
    assert pipeline.execute(plan, OK).status == "done"
    assert _weights(demo_copy) == [["v13", 90], ["v14", 10]]
    assert other.flag("kill-claude-3-5-haiku").environments[0].enabled  # not lost
    assert [o for _, _, o in _audit(session)] == ["conflict", "done"]


def test_bad_input_is_one_clear_line_nothing_written_and_audited(
    demo_copy: Path, frozen_clock: datetime
) -> None:
    session = _session(demo_copy)
    pipeline = Pipeline(session)
    before = (demo_copy / "flags.json").read_bytes()
    for change, message in [
        (SetWeights(FLAG, {"v13": 90, "v14": 20}), "add up to 110, not 100"),
        (SetWeights(FLAG, {"v13": 50, "v15": 50}), "unknown variant 'v15'"),
        (SetEnabled("no-such-flag", True), "'no-such-flag' does not exist"),
        (MoveAlias("support-answer", "production", "99"), "no such version"),
        (RollbackRoute("/nowhere"), "no flag routes '/nowhere'"),
    ]:
        with pytest.raises(ActionError, match=message):
            pipeline.plan(change)
    assert (demo_copy / "flags.json").read_bytes() == before
    (demo_copy / "flags.json").write_text('{"flags": {"x": ')
    with pytest.raises(ActionError, match=r"flags.json: not valid JSON"):
        pipeline.plan(SetEnabled("kill-support-chat", True))
    assert (demo_copy / "flags.json").read_text() == '{"flags": {"x": '
    assert [o for _, _, o in _audit(session)] == ["failed"] * 6


def test_block_model_trips_its_kill_switch(demo_copy: Path, frozen_clock: datetime) -> None:
    pipeline = Pipeline(_session(demo_copy))
    plan = pipeline.plan(BlockModel("claude-3-5-haiku"))
    assert plan.steps[0].target == "kill-claude-3-5-haiku"
    assert "claude-3-5-haiku" in plan.blast.basis and plan.blast.share
    assert pipeline.execute(plan, OK).ok
    with pytest.raises(ActionError, match="no kill switch blocks model 'gpt-5'"):
        pipeline.plan(BlockModel("gpt-5"))


def test_break_glass_needs_a_reason_and_is_audited(demo_copy: Path, frozen_clock: datetime) -> None:
    session = _session(demo_copy, "demo-production")
    store = session.flags()
    assert store is not None and store.read_only
    assert leave_read_only(session, "  ").status == "refused" and session.read_only
    assert leave_read_only(session, "INC-42: roll back v14").status == "done"
    assert not session.read_only and not store.read_only
    pipeline = Pipeline(session)
    plan = pipeline.plan(SetEnabled("kill-support-chat", True))
    assert pipeline.execute(plan, Confirmation(True, "INC-42", "kill-support-chat")).ok
    assert _audit(session) == [
        ("break_glass", "demo-production", "refused"),
        ("break_glass", "demo-production", "done"),
        ("set_enabled", "kill-support-chat", "done"),
    ]


def test_audit_trail_merges_filters_and_exports(
    demo_copy: Path, frozen_clock: datetime, tmp_path: Path
) -> None:
    session = _session(demo_copy)
    Pipeline(session).run(RollbackRoute("/support/chat"), lambda plan: OK)
    rows, problems = audit_log.load(session)
    assert not problems
    mine = [r for r in rows if r.source == "llmdeck"]
    assert mine[0].action == "rollback_route" and mine[0].outcome == "done"
    assert {r.source for r in rows} == {"llmdeck", "history"}
    assert rows == sorted(rows, key=lambda r: r.ts, reverse=True)
    canary = audit_log.matching(rows, "canary deploy-bot")
    assert canary and all("canary" in r.text() for r in canary)
    n = audit_log.export(rows, tmp_path / "a.jsonl")
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert n == len(lines) == len(rows)
    assert json.loads(lines[rows.index(mine[0])])["target"] == "/support/chat"
    audit_log.export(rows, tmp_path / "a.csv")
    with open(tmp_path / "a.csv", newline="") as fh:
        first = list(csv.DictReader(fh))[rows.index(mine[0])]
    assert first["outcome"] == "done" and json.loads(first["after"])[FLAG]["weights"]["v13"] == 100


def test_cli_set_rollback_and_audit(
    demo_copy: Path, frozen_clock: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(demo_copy / "llmdeck.yaml")]
    assert (
        main(
            [*cfg, "flags", "set", FLAG, "--variant", "v13=90", "--variant", "v14=10", "--dry-run"]
        )
        == 0
    )
    assert "dry run" in capsys.readouterr().out
    assert (
        main([*cfg, "--profile", "demo-production", "rollback", "/support/chat", "--reason", "x"])
        == 2
    )
    assert "read-only" in capsys.readouterr().err
    assert main([*cfg, "flags", "set", FLAG, "--variant", "v13=90", "--variant", "v14=20"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "add up to 110" in err
    assert main([*cfg, "rollback", "/support/chat", "--reason", "INC-42"]) == 0
    assert "done" in capsys.readouterr().out
    assert _weights(demo_copy) == [["v13", 100], ["v14", 0]]
    # Production is read-only by default: the CLI's break-glass, then typed confirmation.
    prod = [*cfg, "--profile", "demo-production", "flags", "set", "kill-support-chat", "on"]
    assert main([*prod, "--reason", "INC-42", "--confirm", "kill-support-chat"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert main([*prod, "--reason", "INC-42", "--break-glass", "INC-42 on call"]) == 2
    assert "type 'kill-support-chat' or 'production'" in capsys.readouterr().err
    assert main([*prod, "--reason", "INC-42", "--confirm", "production",
                 "--break-glass", "INC-42 on call"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["--read-only", *prod[:2], *prod[2:], "--break-glass", "x"]) == 2
    assert "opened with --read-only" in capsys.readouterr().err  # refused, and audited
    assert main([*cfg, "flags", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["flags"]
    assert [f["kind"] for f in listed][:2] == ["kill-switch", "kill-switch"]
    assert main([*cfg, "audit", "--jsonl", "--filter", "llmdeck", "--limit", "3"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("break_glass", "refused"),  # --read-only cannot be broken, and the try is audited
        ("set_enabled", "done"),
        ("break_glass", "done"),
    ]


def test_no_audit_log_no_write(tmp_path: Path, demo_dir: Path) -> None:
    (tmp_path / "flags.json").write_bytes((demo_dir / "flags.json").read_bytes())
    (tmp_path / "llmdeck.yaml").write_text(
        "profiles:\n  bare:\n    flags: {kind: flagd, path: flags.json}\n"
    )
    from console.core.config import load_config

    session = Session(load_config(tmp_path / "llmdeck.yaml").profile("bare"))
    pipeline = Pipeline(session)
    plan = pipeline.plan(SetEnabled("kill-support-chat", True))
    assert plan.blast.share is None and "no workspace" in plan.blast.basis
    outcome = pipeline.execute(plan, OK)
    assert outcome.status == "refused" and "no audit log" in outcome.message
    assert (tmp_path / "flags.json").read_bytes() == (demo_dir / "flags.json").read_bytes()


def test_an_unexpected_error_is_audited_as_failed(
    demo_copy: Path, frozen_clock: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _session(demo_copy)
    pipeline = Pipeline(session)
    plan = pipeline.plan(SetEnabled("kill-support-chat", True))
    store = session.flags()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(store, "set_enabled", broken)
    outcome = pipeline.execute(plan, OK)
    assert outcome.status == "failed" and "OSError: disk on fire" in outcome.message
    assert _audit(session) == [("set_enabled", "kill-support-chat", "failed")]
