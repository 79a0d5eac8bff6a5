"""Alias moves on a real MLflow 3 registry through the write pipeline:
promote/roll back an alias, a concurrent move between plan and write is a
conflict that overwrites nothing, read-only refuses; all audited."""

# ruff: noqa: F811  (pytest fixtures imported from tests.backends)
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from connectors.registry.mlflow import MlflowRegistry
from console.actions import Confirmation, MoveAlias, Pipeline
from console.core.config import load_config
from console.core.session import Session
from tests.backends import mlflow_python, mlflow_url  # noqa: F401
from tests.contract.test_mlflow_registry import client

OK = Confirmation(True, reason="promote v3 after evals")


@pytest.fixture(scope="module")
def prompt(mlflow_url: str) -> str:
    prefix = f"a{uuid.uuid4().hex[:8]}"
    client(mlflow_url, prefix, "seed")  # support: production -> 1, canary -> 2
    return f"{prefix}-support"


def _session(tmp_path: Path, url: str, *, read_only: bool = False) -> Session:
    (tmp_path / "llmdeck.yaml").write_text(
        "profiles:\n  stg:\n    environment: staging\n    workspace: ws\n"
        f"    read_only: {'true' if read_only else 'false'}\n"
        f"    registry: {{kind: mlflow, url: '{url}'}}\n"
    )
    return Session(load_config(tmp_path / "llmdeck.yaml").profile("stg"))


def _alias(url: str, name: str, alias: str) -> str | None:
    reg = MlflowRegistry(url=url)
    try:
        return next((a.version for a in reg.aliases(name) if a.alias == alias), None)
    finally:
        reg.close()


def _outcomes(session: Session) -> list[str]:
    return [r[0] for r in session.store().execute("SELECT outcome FROM audit ORDER BY id")]


def test_move_alias_conflict_and_read_only(tmp_path: Path, mlflow_url: str, prompt: str) -> None:
    (tmp_path / "rw").mkdir()
    session = _session(tmp_path / "rw", mlflow_url)
    pipeline = Pipeline(session)
    plan = pipeline.plan(MoveAlias(prompt, "canary", "3"))
    assert (plan.steps[0].before, plan.steps[0].after) == ("2", "3")
    assert pipeline.execute(plan, OK).status == "done"
    assert _alias(mlflow_url, prompt, "canary") == "3"

    plan = pipeline.plan(MoveAlias(prompt, "canary", "1"))
    other = MlflowRegistry(url=mlflow_url)
    other.set_alias(prompt, "canary", "2")  # another operator, meanwhile
    other.close()
    outcome = pipeline.execute(plan, OK)
    assert outcome.status == "conflict" and "changed since the plan" in outcome.message
    assert _alias(mlflow_url, prompt, "canary") == "2"  # nothing overwritten

    (tmp_path / "ro").mkdir()
    ro = _session(tmp_path / "ro", mlflow_url, read_only=True)
    ro_pipeline = Pipeline(ro)
    assert ro_pipeline.run(MoveAlias(prompt, "production", "3"), lambda p: OK).status == "refused"
    assert _alias(mlflow_url, prompt, "production") == "1"
    assert _outcomes(session) == ["done", "conflict"] and _outcomes(ro) == ["refused"]
