"""--read-only through the real CLI (issue 14, defect 12): per action, what it refuses.

The table these tests pin is in README.md ("Read-only") and console/core/readonly.py.
"""

from __future__ import annotations

import http.server
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
FLAGS = {
    "flags": {
        "summarizer-kill": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "off",
        }
    }
}


class _Target(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that only counts what reaches it."""

    hits: list[str] = []

    def do_POST(self) -> None:
        self.hits.append(self.path)
        body = orjson.dumps(
            {
                "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1},
            }
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[tuple[str, list[str]]]:
    _Target.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", _Target.hits
    server.shutdown()


@pytest.fixture
def ws(tmp_path: Path, target: tuple[str, list[str]]) -> Path:
    (tmp_path / "flags.json").write_text(json.dumps(FLAGS))
    (tmp_path / "log.jsonl").write_bytes(
        orjson.dumps(
            {
                "request_id": "r-1",
                "ts": 1795953540000,
                "route": "/support/chat",
                "tenant": "t",
                "model_name": "m",
                "params": {"seed": 7},
                "messages": [{"role": "user", "content": "q"}],
                "output": "a",
            }
        )
        + b"\n"
    )
    (tmp_path / "llmdeck.yaml").write_text(
        "profiles:\n"
        "  dev:\n"
        "    workspace: ws\n"
        "    request_log: {kind: workspace}\n"
        "    flags: {kind: flagd, path: flags.json}\n"
        "    replay_targets:\n"
        f"      staging: {{kind: openai, url: '{target[0]}'}}\n"
    )
    return tmp_path


def llmdeck(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "PYTHONPATH": str(ROOT),  # this checkout, not whichever one is installed
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "NO_PROXY": "127.0.0.1",
    }
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "TZ": os.environ.get("TZ", "UTC")},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def refused(proc: subprocess.CompletedProcess[str], action: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"refused under --read-only: {action}" in proc.stderr


def rows(ws: Path, table: str) -> int:
    with sqlite3.connect(ws / "ws" / "store.db") as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_ingest_refused_and_no_store_created(ws: Path) -> None:
    refused(llmdeck(ws, "--read-only", "ingest", "log.jsonl"), "ingest")
    assert not (ws / "ws" / "store.db").exists()


def test_replay_refused_nothing_sent_nothing_stored(
    ws: Path, target: tuple[str, list[str]]
) -> None:
    assert llmdeck(ws, "ingest", "log.jsonl").returncode == 0  # without the flag: allowed
    before = rows(ws, "replays")
    refused(llmdeck(ws, "--read-only", "replay", "r-1", "--target", "staging"), "replay")
    refused(llmdeck(ws, "--read-only", "replay-batch", "--target", "staging"), "replay")
    assert target[1] == []
    assert rows(ws, "replays") == before


def test_flag_write_refused_audited_and_file_untouched(ws: Path) -> None:
    before = (ws / "flags.json").read_bytes()
    proc = llmdeck(ws, "--read-only", "flags", "set", "summarizer-kill", "on", "--reason", "x")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "read-only" in proc.stdout + proc.stderr
    assert (ws / "flags.json").read_bytes() == before
    with sqlite3.connect(ws / "ws" / "store.db") as conn:
        outcomes = [r[0] for r in conn.execute("SELECT outcome FROM audit")]
    assert outcomes == ["refused"]  # the trail shows the attempt


def test_reads_and_exports_allowed(ws: Path) -> None:
    assert llmdeck(ws, "ingest", "log.jsonl").returncode == 0
    proc = llmdeck(ws, "--read-only", "requests", "--json")
    assert proc.returncode == 0 and "r-1" in proc.stdout, proc.stderr
    proc = llmdeck(ws, "--read-only", "audit", "--export", "audit.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert (ws / "audit.jsonl").exists()  # a file the operator names: not shared state
