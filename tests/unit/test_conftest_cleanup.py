"""A red test run must not leave demo workspaces behind (one left 457 MB)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# A small demo (an hour of traffic) so the inner run takes seconds; the fixtures
# under test are the real ones of tests/conftest.py.
_INNER_CONFTEST = """
import functools
import console.demo.workspace as workspace
workspace.create = functools.partial(workspace.create, days=1 / 24)
from tests.conftest import demo_copy, demo_dir, frozen_clock  # noqa: F401
"""
_INNER_TEST = """
def test_fails_with_a_copy(demo_copy):
    assert (demo_copy / "store.db").is_file()
    assert False, "a red test"
"""


def test_a_failing_run_leaves_no_demo_workspace(tmp_path: Path) -> None:
    suite, temproot = tmp_path / "suite", tmp_path / "temproot"
    suite.mkdir()
    temproot.mkdir()
    (suite / "conftest.py").write_text(_INNER_CONFTEST)
    (suite / "test_red.py").write_text(_INNER_TEST)
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": str(temproot), "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
         "--rootdir", str(suite), "-o", "tmp_path_retention_policy=failed", str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 1 and "1 failed" in run.stdout, run.stdout + run.stderr
    left = [p for p in temproot.rglob("store.db")]
    assert not left, f"demo workspaces left behind: {left}"
