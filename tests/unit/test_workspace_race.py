"""Issue 14, defects 7 and 10: six commands starting at once on a new
workspace all succeed (the migration takes a lock, the others wait) and
every write attempt is audited; the store, its -wal/-shm and the request
and audit exports are private (0600); a flagd rewrite keeps the file's mode."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import orjson

from connectors.flags.flagd import FlagdFile
from connectors.support.atomic import write_atomic
from connectors.workspace.schema import connect

CLI = [sys.executable, "-m", "console", "--config"]
CONFIG = """default_profile: t
profiles:
  t:
    environment: development
    workspace: ./ws
    request_log: {kind: workspace}
    flags: {kind: flagd, path: ./flags.json}
"""
FLAGS = {
    "flags": {
        f"f{i}": {
            "state": "DISABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on",
        }
        for i in range(3)
    }
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def setup(root: Path, n_records: int = 50) -> Path:
    (root / "llmdeck.yaml").write_text(CONFIG)
    (root / "flags.json").write_text(json.dumps(FLAGS, indent=2) + "\n")
    log = root / "log.jsonl"
    log.write_bytes(
        b"".join(
            orjson.dumps({"request_id": f"r-{i}", "ts": 1795953540000 + i, "route": "/x"}) + b"\n"
            for i in range(n_records)
        )
    )
    return log


def start(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, str(root / "llmdeck.yaml"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root), "USER": "tester"},
    )


def test_six_commands_at_once_on_a_new_workspace(tmp_path: Path) -> None:
    log = setup(tmp_path)
    assert not (tmp_path / "ws").exists()
    procs = [
        start(tmp_path, "ingest", str(log)),
        start(tmp_path, "ingest", str(log)),
        start(tmp_path, "flags", "set", "f0", "on", "--reason", "race"),
        start(tmp_path, "flags", "set", "f1", "on", "--reason", "race"),
        start(tmp_path, "flags", "set", "f2", "on", "--reason", "race"),
        start(tmp_path, "audit"),
    ]
    results = [(p.args[4:], *p.communicate(timeout=120), p.returncode) for p in procs]
    # The flag file is compare-and-swap on its whole content, so two flips
    # racing on it may end in an audited conflict: that is the pipeline
    # working. Anything else (the store "already exists", "is locked") is not.
    conflicts = [a for a, _, err, rc in results if rc and "changed since the plan" in err]
    failed = [(a, err) for a, _, err, rc in results if rc and a not in conflicts]
    assert not failed, failed
    assert all(a[1] == "flags" for a in conflicts)
    conn = sqlite3.connect(tmp_path / "ws" / "store.db")
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 50
    audited = conn.execute("SELECT target, outcome FROM audit ORDER BY target").fetchall()
    assert [t for t, _ in audited] == ["f0", "f1", "f2"], audited  # every attempt
    outcomes = [o for _, o in audited]
    assert outcomes.count("conflict") == len(conflicts)
    assert outcomes.count("done") == 3 - len(conflicts) >= 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    conn.close()


def test_store_and_its_wal_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which gave 0644 before
    try:
        conn = connect(tmp_path / "store.db")
        conn.execute("INSERT INTO audit (ts, action) VALUES (1, 'x')")
        conn.commit()
        for name in ("store.db", "store.db-wal", "store.db-shm"):
            assert mode(tmp_path / name) == 0o600, name
        conn.close()
    finally:
        os.umask(old)


def test_request_and_audit_exports_are_private(tmp_path: Path) -> None:
    log = setup(tmp_path, 3)
    old = os.umask(0o022)
    try:
        subprocess.run(
            [*CLI, str(tmp_path / "llmdeck.yaml"), "ingest", str(log)],
            check=True,
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        out = tmp_path / "audit.jsonl"
        out.write_text("")  # an existing world-readable file is made private too
        out.chmod(0o644)
        from console.audit import trail as audit_log

        assert audit_log.export([], out) == 0
        assert mode(out) == 0o600
        csv_out = tmp_path / "audit.csv"
        audit_log.export([], csv_out)
        assert mode(csv_out) == 0o600

        from types import SimpleNamespace

        from connectors.request_log.workspace import WorkspaceRequestLog
        from console.requests.query import export

        record = WorkspaceRequestLog(path=tmp_path / "ws" / "store.db").get("r-1")
        session = SimpleNamespace(
            profile=SimpleNamespace(workspace=tmp_path / "ws", replay_targets={})
        )
        _, path = export(session, record, "json")
        assert mode(path) == 0o600 and '"request_id": "r-1"' in path.read_text()
    finally:
        os.umask(old)


def test_flagd_rewrite_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(FLAGS, indent=2) + "\n")
    path.chmod(0o644)  # a flagd daemon running as another user reads it
    store = FlagdFile(path=path)
    [flag, *_] = store.flags()
    store.set_enabled(flag.key, "default", True, expected=flag)
    assert json.loads(path.read_text())["flags"][flag.key]["state"] == "ENABLED"
    assert mode(path) == 0o644
    path.chmod(0o640)
    write_atomic(path, path.read_text())
    assert mode(path) == 0o640
    fresh = tmp_path / "new.json"
    write_atomic(fresh, "{}")
    assert mode(fresh) == 0o600  # a file llmdeck creates is private
