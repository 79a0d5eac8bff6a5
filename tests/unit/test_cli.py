"""Bad input on the command line: one clear line, exit code 2, nothing overwritten."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.workspace.schema import SCHEMA_VERSION


def llmdeck(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd or "/tmp"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **(env or {})},
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_clear_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    # Progress lines may come first; the problem is the last line, said once.
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("llmdeck: "), proc.stderr
    return lines[-1]


def test_broken_yaml(tmp_path: Path) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text("profiles:\n  a: {metrics: [\n")
    line = one_clear_line(llmdeck("--config", str(cfg), "doctor"))
    assert line.startswith(f"llmdeck: {cfg}:") and "invalid YAML" in line
    assert cfg.read_text() == "profiles:\n  a: {metrics: [\n"


def test_unknown_connector_kind(tmp_path: Path) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text("profiles:\n  a:\n    flags: {kind: launchdarkly}\n")
    line = one_clear_line(llmdeck("--config", str(cfg), "doctor"))
    assert f"{cfg}:3: profiles.a.flags.kind: unknown connector kind 'launchdarkly'" in line


def test_missing_secret(tmp_path: Path) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  a:\n    workspace: ws\n    metrics: {kind: workspace}\n"
        "    replay_targets:\n      staging:\n        kind: openai\n        url: http://127.0.0.1:9/v1\n"
        "        api_key: {env: LLMDECK_NOPE}\n"
    )
    proc = llmdeck("--config", str(cfg), "doctor")
    assert proc.returncode == 1  # doctor reports the failure per backend
    assert "environment variable LLMDECK_NOPE is not set" in proc.stdout
    assert f"{cfg}:9: profiles.a.replay_targets.staging.api_key" in proc.stdout


def test_unwritable_workspace(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = one_clear_line(llmdeck("demo", "--dir", str(blocker / "ws"), "--no-ui"))
    assert "cannot create workspace" in line or "not writable" in line
    assert blocker.read_text() == "x"


def test_workspace_from_newer_schema(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".llmdeck-demo").touch()  # a demo workspace written by a newer llmdeck
    raw = sqlite3.connect(ws / "store.db")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.execute("CREATE TABLE precious (x)")
    raw.commit()
    raw.close()
    before = (ws / "store.db").read_bytes()
    line = one_clear_line(llmdeck("demo", "--dir", str(ws), "--no-ui"))
    assert "newer than this llmdeck supports" in line
    assert (ws / "store.db").read_bytes() == before
    assert not (ws / "llmdeck.yaml").exists()


def test_no_config_found(tmp_path: Path) -> None:
    line = one_clear_line(llmdeck("doctor", cwd=tmp_path, env={"XDG_CONFIG_HOME": str(tmp_path)}))
    assert "no config found" in line and "llmdeck demo" in line


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"], ["doctor", "--help"]])
def test_help(args: list[str]) -> None:
    proc = llmdeck(*args)
    assert proc.returncode == 0 and "usage: llmdeck" in proc.stdout


def test_doctor_on_demo(demo_dir: Path) -> None:
    proc = llmdeck("--config", str(demo_dir / "llmdeck.yaml"), "doctor")
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines()[2:]}
    for cap in ("metrics", "request_log", "registry", "flags"):
        assert " ok " in lines[cap], proc.stdout


def test_demo_never_rebuilds_over_a_real_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "flags.json").write_text('{"flags": {}}')
    line = one_clear_line(llmdeck("demo", "--dir", str(ws), "--no-ui"))
    assert "not empty and not a demo workspace" in line
    assert (ws / "flags.json").read_text() == '{"flags": {}}'
    assert not (ws / "store.db").exists()
