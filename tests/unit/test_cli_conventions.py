"""kubectl and git habits on the command line: ``--version``, global options
after the subcommand, ``--json`` as one document, ``--jsonl`` for streams,
``[]`` for nothing, quiet on a closed pipe, exports that never expect a
refusal. Real processes and real pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import yaml

from connectors.records import ReplayResult, RequestRecord
from console.replay import export
from tests.conftest import ROOT
from tests.unit.test_cli import llmdeck


def test_version() -> None:
    proc = llmdeck("--version", cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.startswith("llmdeck 0."), proc.stderr


def test_global_options_after_the_subcommand(demo_copy: Path) -> None:
    # A copy: the refused write below is audited (with its reason) in the workspace.
    cfg = str(demo_copy / "llmdeck.yaml")
    before = llmdeck("--config", cfg, "--profile", "demo-production", "flags", "list", "--json")
    after = llmdeck("flags", "list", "--json", "--config", cfg, "--profile", "demo-production")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    # A nested subcommand takes them too, and --read-only refuses the write.
    proc = llmdeck("flags", "set", "kill-support-chat", "on", "--reason", "t",
                   "--config", cfg, "--read-only")  # fmt: skip
    assert proc.returncode == 2 and "read-only" in proc.stderr, proc.stderr


def _json_tool(*args: str) -> subprocess.CompletedProcess[str]:
    """``llmdeck ARGS | python3 -m json.tool`` through a real pipe."""
    cmd = " ".join([sys.executable, "-m", "console", *args])
    return subprocess.run(
        f"{cmd} | {sys.executable} -m json.tool", shell=True, cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_json_is_one_document_and_jsonl_a_stream(demo_dir: Path) -> None:
    cfg = str(demo_dir / "llmdeck.yaml")
    for args in (("requests", "--limit", "3"), ("audit", "--limit", "3"), ("replays",)):
        piped = _json_tool(*args, "--json", "--config", cfg)
        assert piped.returncode == 0, (args, piped.stderr)
        assert isinstance(json.loads(piped.stdout), list)
    rows = json.loads(llmdeck("requests", "--limit", "3", "--json", "--config", cfg).stdout)
    lines = llmdeck("requests", "--limit", "3", "--jsonl", "--config", cfg).stdout.splitlines()
    assert [json.loads(line) for line in lines] == rows and len(rows) == 3


def test_empty_results_print_an_empty_array(demo_dir: Path) -> None:
    cfg = str(demo_dir / "llmdeck.yaml")
    for args in (("requests", "--route", "/no/such"), ("audit", "--filter", "zzz-no-such")):
        proc = llmdeck(*args, "--json", "--config", cfg)
        assert proc.returncode == 0 and proc.stdout.strip() == "[]", (args, proc.stdout)


def test_a_closed_pipe_ends_quietly(demo_dir: Path) -> None:
    cfg = str(demo_dir / "llmdeck.yaml")
    for fmt in ("", "--jsonl"):
        proc = subprocess.run(
            f"{sys.executable} -m console requests --limit 2000 {fmt} --config {cfg} | head -1",
            shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert len(proc.stdout.splitlines()) == 1
        assert proc.stderr == "", proc.stderr  # no traceback, no "Exception ignored"


def _pair(refusal: bool) -> tuple[ReplayResult, RequestRecord]:
    from datetime import UTC, datetime

    rec = RequestRecord(
        request_id="req_1", ts=datetime(2026, 11, 29, tzinfo=UTC), prompt_id="support-answer",
        prompt_version="14", model_name="m", output="I can't help with that.", refusal=refusal,
        variables={"question": "reset my password"},
    )  # fmt: skip
    res = ReplayResult(
        replay_id="r1", request_id="req_1", ts=rec.ts, target="local", prompt_version="13",
        request={}, output="Open Settings, then Reset.", verdict="different", similarity=0.1,
    )  # fmt: skip
    return res, rec


def test_exports_never_expect_a_logged_refusal(tmp_path: Path) -> None:
    export.write(tmp_path / "g.jsonl", [_pair(True), _pair(False)], "golden")
    refused, answered = [orjson.loads(x) for x in (tmp_path / "g.jsonl").read_bytes().splitlines()]
    assert refused["expected"] is None and refused["logged_refusal"] is True
    assert refused["logged_output"] == "I can't help with that."
    assert answered["expected"] == "I can't help with that."  # not a refusal: kept
    export.write(tmp_path / "t.yaml", [_pair(True)], "promptfoo")
    (case,) = yaml.safe_load((tmp_path / "t.yaml").read_text())
    assert case["assert"] == [{"type": "not-equals", "value": "I can't help with that."}]
