"""Registry listing of 1,000 prompts x 20 versions on a real MLflow 3.17.2 server (target < 1 s).

The bench runs its own MLflow server (the venv that ``scripts/backends.sh
install mlflow`` made) on a free port with its own SQLite store, so the shared
test server is not filled with 20,000 versions. The store is seeded once in
bulk through MLflow's REST API, with the same tags the official client writes
for a prompt (``mlflow.prompt.is_prompt``, ``mlflow.prompt.text``,
``_mlflow_prompt_type``), and kept in ``.backends/bench-mlflow/`` for later runs.

Times ``MlflowRegistry.entries("prompt")`` (the Registry screen's listing:
names, newest version, aliases), the official client's ``search_prompts``
over the same prompts (the server's own floor, measured in the same run),
``versions()`` of one prompt, and reading the versions of every prompt one
after the other. ``uptime``'s load average is printed: the machine is shared.

    python -m bench.mlflow_listing [--prompts 1000] [--versions 20] [--repeat 5] [--all-versions]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from connectors.registry.mlflow import API, MlflowRegistry

ROOT = Path(__file__).resolve().parent.parent
MLFLOW = ROOT / ".backends" / "mlflow" / "bin" / "mlflow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    if not MLFLOW.exists():
        raise SystemExit(f"{MLFLOW} not found: run `bash scripts/backends.sh install mlflow`")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--default-artifact-root", str(folder / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=log, stderr=log, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).text.startswith("OK"):
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"mlflow server exited; see {folder / 'server.log'}")
        time.sleep(0.2)
    stop(proc)
    raise SystemExit("mlflow server did not become ready in 120 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    # The server runs in its own session (gunicorn/uvicorn workers): end that group only.
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def seed(url: str, prompts: int, versions: int) -> float:
    """Create the prompts through the REST API, 4 at a time; returns seconds."""
    started = time.perf_counter()
    tag = {"key": "mlflow.prompt.is_prompt", "value": "true"}

    def one(i: int) -> None:
        name = f"bench-{i:04d}"
        with httpx.Client(base_url=url + API, timeout=60) as http:
            r = http.post("/registered-models/create", json={"name": name, "tags": [tag]})
            if r.status_code != 200 and "already exists" not in r.text:
                r.raise_for_status()
            for v in range(1, versions + 1):
                tags = [
                    tag,
                    {"key": "_mlflow_prompt_type", "value": "text"},
                    {"key": "mlflow.prompt.text", "value": f"Prompt {i} v{v}: {{{{question}}}}"},
                    {"key": "eval.pass_ratio", "value": f"0.{80 + v % 20}"},
                ]
                body = {"name": name, "source": "dummy-source", "description": f"v{v}",
                        "tags": tags}  # fmt: skip
                http.post("/model-versions/create", json=body).raise_for_status()
            http.post(
                "/registered-models/alias",
                json={"name": name, "alias": "production", "version": str(versions)},
            ).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(prompts)))
    return time.perf_counter() - started


OFFICIAL = """
import json, logging, sys, time
logging.disable(logging.WARNING)
import mlflow
from mlflow import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
client, out = MlflowClient(), []
for _ in range(int(sys.argv[2])):
    started, token, n = time.perf_counter(), None, 0
    while True:
        page = client.search_prompts(max_results=1000, page_token=token)
        n, token = n + len(page), page.token
        if not token:
            break
    out.append((time.perf_counter() - started) * 1000)
print(json.dumps({"n": n, "ms": out}))
"""


def official(url: str, repeat: int) -> tuple[int, list[float]]:
    """The official client's ``search_prompts`` over every page, timed in the MLflow venv."""
    import json

    python = MLFLOW.with_name("python")
    proc = subprocess.run(
        [str(python), "-c", OFFICIAL, url, str(repeat)], capture_output=True, text=True, check=True
    )
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(data["n"]), [float(x) for x in data["ms"]]


def timed(fn: object, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--versions", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--all-versions", action="store_true", help="also read every version")
    args = ap.parse_args()
    folder = ROOT / ".backends" / f"bench-mlflow-{args.prompts}x{args.versions}"
    proc, url = start(folder)
    try:
        reg = MlflowRegistry(url=url)
        if len(reg.entries("prompt")) < args.prompts:
            took = seed(url, args.prompts, args.versions)
            print(f"seeded {args.prompts} prompts x {args.versions} versions in {took:.0f} s")
        entries = reg.entries("prompt")
        last = reg.versions(entries[-1].name)
        print(f"MLflow at {url}: {len(entries):,} prompts, {len(last)} versions each (last one)")
        print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        assert len(entries) >= args.prompts and entries[-1].latest == str(args.versions)
        assert entries[-1].aliases == {"production": str(args.versions)}
        listing = timed(lambda: reg.entries("prompt"), args.repeat)
        one = timed(lambda: reg.versions(entries[0].name), args.repeat)
        found, client = official(url, args.repeat)
        rows = [
            (f"listing {len(entries):,} prompts (entries)", listing),
            (f"official client search_prompts ({found:,})", client),
            (f"versions of one prompt ({len(last)})", one),
        ]
        if args.all_versions:
            every = timed(lambda: [reg.versions(e.name) for e in entries], 1)
            rows.append((f"versions of all {len(entries):,} prompts", every))
        for label, values in rows:
            print(
                f"{label:40s} median {statistics.median(values):8.1f} ms  "
                f"max {max(values):8.1f} ms  (n={len(values)})"
            )
        reg.close()
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
