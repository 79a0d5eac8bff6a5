"""The flagd flag-file store: layout and unknown keys kept, compare-and-swap,
no lost update between concurrent writers, no torn file when the writer is
killed mid-write, and bad files refused with a clear message."""

from __future__ import annotations

import difflib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.errors import BackendUnavailable, Conflict, InvalidChange, NotFound
from connectors.flags.flagd import FlagdFile, validate

DOC = {
    "$schema": "https://flagd.dev/schema/v0/flags.json",
    "$evaluators": {"emails": {"in": ["@example.com", {"var": "email"}]}},
    "flags": {
        "answer-rollout": {
            "state": "ENABLED",
            "variants": {"v13": "13", "v14": "14"},
            "defaultVariant": "v13",
            "x-owner": "support-team",
            "targeting": {"fractional": [{"var": "tenant"}, ["v13", 50], ["v14", 50]]},
            "metadata": {"type": "release", "route": "/support/chat"},
        },
        "kill-chat": {
            "state": "DISABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on",
            "metadata": {"type": "kill-switch"},
        },
    },
}


def _file(tmp_path: Path, indent: int | str | None = 4, doc: object = DOC) -> Path:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(doc, indent=indent) + "\n")
    return path


@pytest.mark.parametrize("indent", [4, "\t", 2])
def test_a_write_keeps_unknown_keys_and_layout(tmp_path: Path, indent: int | str) -> None:
    path = _file(tmp_path, indent)
    before = path.read_text()
    store = FlagdFile(path=path)
    store.set_weights(
        "answer-rollout", "default", {"v13": 90, "v14": 10}, expected=store.flag("answer-rollout")
    )
    after = path.read_text()
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert len(changed) == 4, changed  # two weights, nothing else
    doc = json.loads(after)
    assert doc["$evaluators"] == DOC["$evaluators"]
    assert doc["flags"]["answer-rollout"]["x-owner"] == "support-team"
    # the bucketing expression in front of the weight pairs is kept
    assert doc["flags"]["answer-rollout"]["targeting"]["fractional"][0] == {"var": "tenant"}
    env = store.flag("answer-rollout").env("default")
    assert env is not None and {v.name: v.weight for v in env.variants} == {"v13": 90, "v14": 10}


def test_compact_file_stays_compact(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(DOC, separators=(",", ":")))
    store = FlagdFile(path=path)
    store.set_enabled("kill-chat", "default", True, expected=store.flag("kill-chat"))
    text = path.read_text()
    assert "\n" not in text and '": ' not in text
    assert json.loads(text)["flags"]["kill-chat"]["state"] == "ENABLED"


def test_compare_and_swap_refuses_a_stale_plan(tmp_path: Path) -> None:
    path = _file(tmp_path)
    store = FlagdFile(path=path)
    stale = store.flag("kill-chat")
    store.set_enabled("answer-rollout", "default", False, expected=store.flag("answer-rollout"))
    content = path.read_bytes()
    with pytest.raises(Conflict):
        store.set_enabled("kill-chat", "default", True, expected=stale)
    assert path.read_bytes() == content


def test_bad_changes_and_files_are_refused_and_nothing_written(tmp_path: Path) -> None:
    path = _file(tmp_path)
    store = FlagdFile(path=path)
    content = path.read_bytes()
    flag = store.flag("answer-rollout")
    with pytest.raises(InvalidChange, match="add up to 110"):
        store.set_weights("answer-rollout", "default", {"v13": 60, "v14": 50}, expected=flag)
    with pytest.raises(InvalidChange, match="unknown variant 'v99'"):
        store.set_weights("answer-rollout", "default", {"v13": 50, "v99": 50}, expected=flag)
    with pytest.raises(NotFound):
        store.set_enabled("answer-rollout", "production", True, expected=flag)
    assert path.read_bytes() == content
    path.write_text('{"flags": {"a": {"state": "ENABLED", "variants": ')
    with pytest.raises(BackendUnavailable, match=r"flags.json: not valid JSON \(.*line 1"):
        store.flags()
    assert validate({"flags": {"a": {"state": "ON", "variants": {}}}})


# -- concurrent writers --------------------------------------------------------

WRITERS, INCREMENTS = 4, 12


def _increment(path: str, times: int) -> None:
    """Move one point of weight from v13 to v14, ``times`` times, retrying on Conflict."""
    store = FlagdFile(path=path)
    done = 0
    while done < times:
        flag = store.flag("answer-rollout")
        env = flag.env("default")
        assert env is not None
        w = {v.name: v.weight for v in env.variants}
        new = {"v13": w["v13"] - 1, "v14": w["v14"] + 1}
        try:
            store.set_weights("answer-rollout", "default", new, expected=flag)
        except Conflict:
            continue
        done += 1


def test_concurrent_writers_never_lose_an_update(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(DOC))
    doc["flags"]["answer-rollout"]["targeting"]["fractional"][1:] = [["v13", 100], ["v14", 0]]
    path = _file(tmp_path, doc=doc)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_increment, args=(str(path), INCREMENTS)) for _ in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    env = FlagdFile(path=path).flag("answer-rollout").env("default")
    assert env is not None
    assert {v.name: v.weight for v in env.variants} == {
        "v13": 100 - WRITERS * INCREMENTS,
        "v14": WRITERS * INCREMENTS,
    }


# -- a writer killed mid-write ---------------------------------------------------

WRITER = """
import os
import sys
import time

from connectors.flags.flagd import FlagdFile

# A slow disk: each fsync takes 30 ms more, so that kills land inside writes
# (while the temporary file exists) on a quiet machine too, not only a busy one.
_fsync = os.fsync
def slow_fsync(fd):
    time.sleep(0.03)
    _fsync(fd)
os.fsync = slow_fsync
store = FlagdFile(path=sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    flag = store.flag("answer-rollout")
    i += 1
    store.set_weights("answer-rollout", "default", {"v13": i % 101, "v14": 100 - i % 101},
                      expected=flag)
"""


def test_killing_the_writer_mid_write_never_leaves_a_torn_file(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(DOC))
    # ~2 MB of unknown data makes each write long enough to be killed inside it.
    doc["x-padding"] = ["p" * 1000] * 2000
    path = _file(tmp_path, doc=doc)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    mid_write = 0  # kills that left a temporary file: the writer died inside a write
    for round_ in range(40):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + 0.037 * (round_ % 12))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        text = path.read_text()
        doc_now = json.loads(text)  # a torn file would not parse
        assert not validate(doc_now)
        assert len(doc_now["x-padding"]) == 2000
        assert FlagdFile(path=path).flag("answer-rollout").env("default") is not None
        leftovers = list(tmp_path.glob(".flags.json-*"))
        mid_write += bool(leftovers)
        for tmp in leftovers:
            tmp.unlink()
        if mid_write >= 3:
            break
    assert mid_write >= 3, "the writer was never killed inside a write"


def test_a_writer_removes_a_dead_writers_temporary_file(tmp_path: Path) -> None:
    path = _file(tmp_path)
    (tmp_path / ".flags.json-dead1234").write_text('{"half": ')
    store = FlagdFile(path=path)
    store.set_enabled("kill-chat", "default", True, expected=store.flag("kill-chat"))
    assert not list(tmp_path.glob(".flags.json-*"))
