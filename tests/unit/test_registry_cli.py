"""``llmdeck registry list|show`` and ``llmdeck diff`` on the demo workspace, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from console.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def workspace(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One writable copy for the module: listing only adds alias snapshots, idempotently."""
    import shutil
    import sqlite3

    dest = tmp_path_factory.mktemp("cli") / "ws"
    shutil.copytree(demo_dir, dest, ignore=shutil.ignore_patterns("store.db*"))
    with sqlite3.connect(demo_dir / "store.db") as src, sqlite3.connect(dest / "store.db") as dst:
        src.backup(dst)
    return dest


@pytest.fixture
def cfg(workspace: Path, frozen_clock: Any) -> str:
    return str(workspace / "llmdeck.yaml")


def test_registry_list_and_show(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", cfg, "registry", "list", "--json")
    assert code == 0
    data = json.loads(out)
    entries = {e["name"]: e for e in data["entries"]}
    assert entries["support-answer"]["aliases"] == {"production": "13", "canary": "14"}
    assert entries["gpt-4o-mini"]["kind"] == "model" and data["errors"] == []
    code, out, _ = run(capsys, "--config", cfg, "registry", "list", "--kind", "model")
    assert code == 0 and "support-answer" not in out and "gpt-4o-mini" in out
    code, out, _ = run(capsys, "--config", cfg, "registry", "show", "support-answer", "--json")
    show = json.loads(out)
    assert [v["version"] for v in show["versions"]] == ["11", "12", "13", "14"]
    assert show["versions"][3]["aliases"] == ["canary"]
    assert show["alias_history"][-1] == {
        "ts": "2026-11-29T09:00:00Z", "alias": "canary", "before": None, "after": "14"
    }  # fmt: skip
    lineage = {(r["prompt_version"], r["model_name"]) for r in show["lineage"]["rows"]}
    assert lineage == {("13", "gpt-4o-mini"), ("13", "claude-3-5-haiku"),
                       ("14", "gpt-4o-mini"), ("14", "claude-3-5-haiku")}  # fmt: skip
    code, out, _ = run(capsys, "--config", cfg, "registry", "show", "support-answer")
    assert code == 0 and "canary: - -> 14" in out and "v14" in out


def test_diff_formats(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--config", cfg, "diff", "support-answer@production", "support-answer@canary",
        "--unified",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("--- support-answer@13/prompt\n+++ support-answer@14/prompt\n")
    assert "-tags.eval.pass_ratio: 0.93\n+tags.eval.pass_ratio: 0.81\n" in out
    code, out, _ = run(capsys, "--config", cfg, "diff", "support-answer@14", "--json")
    data = json.loads(out)
    assert (data["a"]["version"], data["b"]["version"]) == ("13", "14")  # the predecessor
    assert data["template"]["removed"] == 1 and data["template"]["added"] == 1
    assert data["evals"] == [
        {"key": "eval.pass_ratio", "before": "0.93", "after": "0.81", "status": "changed"}
    ]
    assert data["traffic"]["14"]["refusal_rate"] > 3 * data["traffic"]["13"]["refusal_rate"]
    code, out, _ = run(capsys, "--config", cfg, "diff", "support-answer@13", "support-answer@14")
    assert code == 0 and "refusals" in out and "+++ support-answer@14/prompt" in out


def test_diff_of_the_versions_a_flag_routes_between(
    cfg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "--config", cfg, "diff", "--flag", "support-answer-rollout", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert (data["name"], data["a"]["version"], data["b"]["version"]) == (
        "support-answer",
        "13",
        "14",
    )
    code, _, err = run(capsys, "--config", cfg, "diff", "--flag", "kill-support-chat")
    assert code == 2 and "does not route between prompt versions" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("diff", "support-answer@nope", "support-answer@14"),
         "llmdeck: diff: support-answer@nope: no such version or alias"),
        (("diff", "support-answer"),
         "llmdeck: 'support-answer': expected NAME@VERSION or NAME@ALIAS"),
        (("diff", "support-answer@11"),
         "llmdeck: diff: support-answer@11: the first version has no predecessor"),
        (("diff", "a@1", "b@2"), "llmdeck: a@1 and b@2: compare two versions of one name"),
        (("registry", "show", "nope"), "llmdeck: registry: 'nope' is not in the registry at"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    cfg: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, "--config", cfg, *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_mlflow_down_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n    registry: {kind: mlflow, url: 'http://127.0.0.1:9', retries: 0}\n"
    )
    code, _, err = run(capsys, "--config", str(cfg), "registry", "list")
    assert code == 2
    assert err == (
        "llmdeck: registry: MLflow at http://127.0.0.1:9: /registered-models/search:"
        " unreachable (ConnectError)\n"
    )
