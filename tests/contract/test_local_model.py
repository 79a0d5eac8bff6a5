"""The demo's local model: used when something already answers, built and
served in the background otherwise (real pip, real llama.cpp server), shown in
the console header while it builds, announced when it answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.replay.openai import OpenAICompatTarget
from console.core.session import Session
from console.demo.local_model import CMAKE_ARGS, IDLE_S, LocalModel, ModelStatus
from screens.app import LlmdeckApp
from screens.widgets.deck_header import DeckHeader
from tests.backends import ROOT, llama_python
from tests.fault_server import FaultServer, fault_server


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with fault_server() as s:
        yield s


def test_cmake_args_are_the_ones_of_backends_md() -> None:
    # A native build emits AMX instructions that crash with SIGILL on these machines.
    assert CMAKE_ARGS.split() == [
        "-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON",
        "-DGGML_F16C=ON", "-DGGML_AVX512=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF",
    ]  # fmt: skip


def test_a_port_held_by_something_else_is_said_and_skipped(tmp_path: Path) -> None:
    """18080 and 18081 clashes: something that is not our runner holds the preferred
    port (here a socket that accepts and never answers). The model takes the next
    free port, records it, and the header says why."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(8)
        held = busy.getsockname()[1]
        model = LocalModel(tmp_path / "llama", port=held, build="true", serve=_SERVE)
        status = model.start()
        try:
            assert model._spawned is not None and model.port != held
            assert (tmp_path / "llama" / "port").read_text() == str(model.port)
            assert f"port {held} is held by another process" in status.line()
            assert model.url == f"http://127.0.0.1:{model.port}/v1"
        finally:
            assert model.stop()


# A small real OpenAI-shaped server and a build that takes a while and prints
# cmake-like progress: the runner, the detaching and the adoption are the real code.
_SERVE = f"{sys.executable} -m tests.fake_model_server {{host}} {{port}}"
_BUILD_SH = """#!/bin/sh
echo "[ 10%] Building C object"
while [ ! -e "$1" ]; do sleep 0.05; done
echo "[ 90%] Building CXX object"
"""


def _console(home: Path, port: int, build: str) -> subprocess.CompletedProcess[str]:
    """A console in its own process that starts the model and quits at once."""
    code = (
        "import sys; from pathlib import Path; from console.demo.local_model import LocalModel; "
        f"m = LocalModel(Path({str(home)!r}), port={port}, build={build!r}, serve={_SERVE!r}); "
        "print(m.start().state); m.detach()"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_build_outlives_the_console_and_the_next_console_adopts_it(tmp_path: Path) -> None:
    home, gate = tmp_path / "llama", tmp_path / "finish-build"
    script = tmp_path / "build.sh"
    script.write_text(_BUILD_SH)
    build = f"sh {script} {gate}"
    port = _free_port()
    first = _console(home, port, build)
    assert first.returncode == 0 and first.stdout.strip() == "building", first.stderr
    # The console is gone; its runner is not (own session, no parent watching).
    later = LocalModel(home, port=port, build=build, serve=_SERVE)
    _wait(lambda: later.runner_pid() is not None)
    runner = later.runner_pid()
    assert runner is not None and os.getsid(runner) == runner  # own session and group
    status = later.start()
    assert later._spawned is None  # adopted, not a second build
    assert status.state == "building" and "adopted" in status.line()
    _wait(lambda: later.status().percent == 10)
    gate.touch()  # the build finishes after the first console quit
    _wait(lambda: later.status().ready)
    assert later.runner_pid() == runner and later.port == port
    # A third console adopts the running server the same way.
    third = LocalModel(home, port=_free_port(), build=build, serve=_SERVE)
    assert third.start().state in ("building", "ready")
    assert third._spawned is None and third.port == port
    _wait(lambda: third.status().ready)
    assert third.stop()
    _wait(lambda: not third.port_open())
    assert third.runner_pid() is None and third.status().state == "off"


def test_a_stale_pid_file_is_not_adopted(tmp_path: Path) -> None:
    """A pid that is alive but not a runner (recycled) must not be adopted."""
    home = tmp_path / "llama"
    home.mkdir()
    (home / "runner.pid").write_text(str(os.getpid()))  # pytest, not a runner
    model = LocalModel(home, port=_free_port(), build="true", serve=_SERVE)
    assert model.runner_pid() is None
    model.start()
    try:
        assert model._spawned is not None
        _wait(lambda: model.status().ready)
    finally:
        assert model.stop()


def test_the_runner_stops_the_server_when_no_console_watches(tmp_path: Path) -> None:
    home = tmp_path / "llama"
    model = LocalModel(home, port=_free_port(), build="true", serve=_SERVE)
    model.start()
    _wait(lambda: model.status().ready)
    old = time.time() - IDLE_S - 5
    os.utime(home / "heartbeat", (old, old))  # the last console left long ago
    _wait(lambda: model.runner_pid() is None and not model.port_open())


def test_status_lines_from_the_runner_files(tmp_path: Path) -> None:
    model = LocalModel(tmp_path, port=_free_port())
    assert model.status().state == "off"
    runner = subprocess.Popen(  # a live process whose command line is a runner's
        [sys.executable, "-c", "import time; print(flush=True); time.sleep(60)",
         "console.demo.local_model", "run"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    # Popen can return before the kernel has the new command line in place (empty in
    # /proc/PID/cmdline for a moment); a real runner writes its pid file once it runs.
    assert runner.stdout is not None and runner.stdout.readline() == b"\n"
    (tmp_path / "runner.pid").write_text(str(runner.pid))
    (tmp_path / "status.json").write_text(json.dumps({"phase": "compile", "since": time.time()}))
    (tmp_path / "build.log").write_bytes(b"[ 12%] Building C object\n[ 45%] Building CXX object\n")
    status = model.status()
    assert (status.state, status.percent) == ("building", 45)
    assert status.line().startswith("model: building llama.cpp 45% (0:0")
    (tmp_path / "status.json").write_text(json.dumps({"phase": "failed", "error": "no cmake"}))
    assert model.status().line() == f"model build failed: no cmake (see {tmp_path}/build.log)"
    runner.kill()
    runner.wait()
    runner.stdout.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.backend("llama")
async def test_background_build_then_serve_then_stop() -> None:
    """The real thing: venv, pip (the wheel comes from pip's cache after the first
    build on a machine), the server on a free port, a completion, and stop."""
    llama_python()  # skips (or fails in CI) when the llama backend was never installed
    model = LocalModel(ROOT / ".backends" / "llmdeck-local-model", port=_free_port())
    first = model.start()
    assert not first.ready  # returned before anything answers: the console never waits
    deadline = time.monotonic() + 900
    while not (status := model.status()).ready:
        assert status.state == "building", status.line()
        assert time.monotonic() < deadline, "local model not ready after 15 minutes"
        time.sleep(0.5)
    target = OpenAICompatTarget(url=model.url)
    answer = await target.complete(
        [{"role": "user", "content": "Hi"}], {"seed": 1, "max_tokens": 4}, "smollm2-135m"
    )
    await target.aclose()
    assert answer.text and answer.tokens_out > 0
    model.stop()
    deadline = time.monotonic() + 15
    while model.answers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not model.answers()


class FakeModel:
    """A local model whose status the test sets."""

    url = "http://127.0.0.1:18081/v1"

    def __init__(self, current: ModelStatus) -> None:
        self.current = current

    def status(self) -> ModelStatus:
        return self.current


async def test_header_shows_the_build_then_announces_the_model(demo_session: Session) -> None:
    model = FakeModel(ModelStatus("building", "building llama.cpp", 45, 75.0))
    app = LlmdeckApp(demo_session, local_model=model)
    notes: list[Any] = []
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        header = app.screen.query_one(DeckHeader)
        assert header.status == "model: building llama.cpp 45% (1:15)"
        assert not app._notifications
        model.current = ModelStatus("ready")
        await pilot.pause(1.3)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert header.status.startswith("model ready (smollm2-135m)")
        notes = [n.message for n in app._notifications]
    assert any("press r on a request" in n for n in notes)


async def test_r_waits_for_the_local_model(demo_session: Session) -> None:
    from connectors.base import RequestFilter
    from screens.replay import ReplayScreen
    from screens.request_detail import RequestDetailScreen

    log = demo_session.request_log()
    assert log is not None
    rec = next(r for r in log.page(RequestFilter(status="ok"), limit=20).records if r.has_content)
    model = FakeModel(ModelStatus("building", "building llama.cpp", 45, 75.0))
    app = LlmdeckApp(demo_session, local_model=model)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await app.workers.wait_for_complete()
        await app.push_screen(RequestDetailScreen(rec))
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ReplayScreen)
        assert any(n.title == "local model not ready" for n in app._notifications)
