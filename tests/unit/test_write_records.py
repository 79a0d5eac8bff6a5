"""What the write commands record (issue 17, defect 10): a dry run audits
nothing, a refused or cancelled write keeps the operator's reason, and
``flags list --json`` shows the same last change as the Flags screen."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from console.actions import Confirmation, Pipeline, RollbackRoute, SetEnabled
from console.cli import main
from console.core.session import Session
from console.flags import rows as flag_view
from tests.conftest import demo_profile

FLAG = "support-answer-rollout"


def _last_id(ws: Path) -> int:
    """The newest audit row's id: the tests look only at the rows after it."""
    session = Session(demo_profile(ws))
    try:
        return int(session.store().execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0])
    finally:
        session.close()


def _audit(ws: Path, after: int) -> list[tuple[str, str, str]]:
    """The audit rows written after row ``after``, oldest first."""
    session = Session(demo_profile(ws))
    try:
        return (
            session.store()
            .execute("SELECT action, outcome, reason FROM audit WHERE id > ? ORDER BY id", (after,))
            .fetchall()
        )
    finally:
        session.close()


def test_a_failing_dry_run_is_not_audited(
    demo_copy: Path, frozen_clock: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(demo_copy / "llmdeck.yaml")]
    start = _last_id(demo_copy)
    assert main([*cfg, "rollback", "/support/chat", "--reason", "INC-42"]) == 0
    capsys.readouterr()
    before = _audit(demo_copy, start)
    assert [o for _, o, _ in before] == ["done"]
    # Nothing is left to roll back: the plan cannot be built, and it is a dry run.
    assert main([*cfg, "rollback", "/support/chat", "--dry-run"]) == 2
    assert "nothing to roll back" in capsys.readouterr().err
    bad = ["flags", "set", FLAG, "--variant", "v13=90", "--variant", "v14=20", "--dry-run"]
    assert main([*cfg, *bad]) == 2
    assert "add up to 110" in capsys.readouterr().err
    assert _audit(demo_copy, start) == before
    # The same failing plan for a real write is still audited as failed.
    assert main([*cfg, "rollback", "/support/chat", "--reason", "again"]) == 2
    assert _audit(demo_copy, start)[-1] == ("rollback_route", "failed", "")


def test_a_refused_cli_write_keeps_the_reason(
    demo_copy: Path, frozen_clock: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(demo_copy / "llmdeck.yaml"), "--profile", "demo-production"]
    start = _last_id(demo_copy)
    assert main([*cfg, "rollback", "/support/chat", "--reason", "INC-42 refusals"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert main([*cfg, "flags", "set", "kill-support-chat", "on", "--reason", "INC-43"]) == 2
    assert _audit(demo_copy, start) == [
        ("rollback_route", "refused", "INC-42 refusals"),
        ("set_enabled", "refused", "INC-43"),
    ]


def test_refused_and_cancelled_writes_keep_the_reason_in_the_pipeline(
    demo_copy: Path, frozen_clock: datetime
) -> None:
    start = _last_id(demo_copy)
    writable = Session(demo_profile(demo_copy))
    read_only = Session(demo_profile(demo_copy), read_only=True)
    try:
        plan = Pipeline(writable).plan(SetEnabled("kill-support-chat", True))
        # The console's modal: escape answers Confirmation(False) with what was typed.
        cancelled = Pipeline(writable).execute(plan, Confirmation(False, reason="not yet"))
        refused = Pipeline(read_only).execute(plan, Confirmation(True, reason="INC-44"))
        early = Pipeline(read_only).run(
            RollbackRoute("/support/chat"), lambda p: Confirmation(True), reason="INC-45"
        )
    finally:
        writable.close()
        read_only.close()
    assert (cancelled.status, refused.status, early.status) == ("cancelled", "refused", "refused")
    assert [r for _, _, r in _audit(demo_copy, start)] == ["not yet", "INC-44", "INC-45"]


def test_flags_list_json_shows_the_screens_last_change(
    demo_copy: Path, frozen_clock: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(demo_copy / "llmdeck.yaml")]
    session = Session(demo_profile(demo_copy))
    try:
        screen = {r.key: r for r in flag_view.load(session)}[FLAG]
    finally:
        session.close()
    assert screen.last_change is not None  # the demo's rollout has a change to show
    assert main([*cfg, "flags", "list", "--json"]) == 0
    listed = {f["key"]: f for f in json.loads(capsys.readouterr().out)["flags"]}
    assert listed[FLAG]["last_changed"] == screen.last_change.isoformat()
    assert listed[FLAG]["last_changed_by"] == screen.last_by
