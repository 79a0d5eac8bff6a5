"""The demo's local model: used when something already answers, built and
served in the background otherwise (real pip, real llama.cpp server), shown in
the console header while it builds, announced when it answers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.replay.openai import OpenAICompatTarget
from console.core.session import Session
from console.demo.local_model import CMAKE_ARGS, LocalModel, ModelStatus
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


def test_something_already_answering_is_used(tmp_path: Path, server: FaultServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    model = LocalModel(tmp_path / "llama", port=port)
    assert model.start().ready
    assert model._spawned is None and not (tmp_path / "llama").exists()
    model.stop()  # nothing of ours to stop


def test_a_busy_server_on_the_port_is_used_not_rebuilt(tmp_path: Path) -> None:
    """A llama.cpp server busy with a completion accepts connections but answers
    late: no second server is built (it could not bind the port anyway)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(8)  # accepts connections, never answers
        model = LocalModel(tmp_path / "llama", port=busy.getsockname()[1])
        assert model.start().ready
        assert model._spawned is None
        assert model.status() == ModelStatus("ready", "busy")


def test_status_lines_from_the_runner_files(tmp_path: Path) -> None:
    model = LocalModel(tmp_path, port=_free_port())
    assert model.status().state == "off"
    (tmp_path / "runner.pid").write_text(str(__import__("os").getpid()))  # a live pid
    (tmp_path / "status.json").write_text(json.dumps({"phase": "compile", "since": time.time()}))
    (tmp_path / "build.log").write_bytes(b"[ 12%] Building C object\n[ 45%] Building CXX object\n")
    status = model.status()
    assert (status.state, status.percent) == ("building", 45)
    assert status.line().startswith("model: building llama.cpp 45% (0:0")
    (tmp_path / "status.json").write_text(json.dumps({"phase": "failed", "error": "no cmake"}))
    assert model.status().line() == f"model build failed: no cmake (see {tmp_path}/build.log)"


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

    url = "http://127.0.0.1:18080/v1"

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
