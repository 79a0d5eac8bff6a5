"""The write pipeline's cost: plan (reads + blast radius) and execute (re-read,
write, verify, audit) on a copy of a 1M-record demo workspace (flagd file),
and on the real Unleash server when it answers.

    python -m bench.write_pipeline [--records 1000000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.workspace import demo_session, ensure
from console.actions import Confirmation, Pipeline, RollbackRoute, SetWeights
from console.core.config import load_config
from console.core.session import Session

OK = Confirmation(True, reason="bench", typed="production")


def _ms(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def _copy(ws: Path) -> Path:
    dest = Path(tempfile.mkdtemp(prefix="llmdeck-bench-write-")) / "ws"
    shutil.copytree(ws, dest, ignore=shutil.ignore_patterns("store.db*"))
    src, dst = sqlite3.connect(ws / "store.db"), sqlite3.connect(dest / "store.db")
    src.backup(dst)
    src.close()
    dst.close()
    return dest


def flagd(records: int, rounds: int) -> None:
    print("flagd:")
    ws = _copy(ensure(records))
    session = demo_session(ws)
    pipeline = Pipeline(session)
    med, top = _ms(lambda: pipeline.plan(RollbackRoute("/support/chat")), rounds)
    print(f"  plan rollback (2 steps, blast radius): median {med:6.1f} ms, max {top:6.1f} ms")
    flip = [{"v13": 90.0, "v14": 10.0}, {"v13": 80.0, "v14": 20.0}]
    state = {"i": 0}

    def execute() -> None:
        state["i"] += 1
        plan = pipeline.plan(SetWeights("support-answer-rollout", flip[state["i"] % 2]))
        assert pipeline.execute(plan, OK).ok

    med, top = _ms(execute, rounds)
    print(f"  plan + execute set_weights (audited): median {med:6.1f} ms, max {top:6.1f} ms")
    shutil.rmtree(ws.parent)


def unleash(rounds: int) -> None:
    url, token = "http://127.0.0.1:14242", "*:*.unleash-insecure-admin-api-token"
    try:
        httpx.get(url + "/health", timeout=2).raise_for_status()
    except httpx.HTTPError:
        print("unleash: not answering, skipped (bash scripts/backends.sh start unleash)")
        return
    key = f"bench-{uuid.uuid4().hex[:8]}"
    admin = httpx.Client(base_url=url, headers={"Authorization": token})
    admin.post("/api/admin/projects/default/features", json={"name": key, "type": "release"})
    base = f"/api/admin/projects/default/features/{key}/environments/production"
    admin.post(base + "/strategies", json={
        "name": "flexibleRollout", "parameters": {"rollout": "100", "stickiness": "default",
                                                  "groupId": key},
        "variants": [{"name": n, "weight": 500, "weightType": "variable",
                      "stickiness": "default"} for n in ("v13", "v14")],
    })  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "llmdeck.yaml"
        cfg.write_text(
            "profiles:\n  prod:\n    environment: production\n    read_only: false\n"
            f"    workspace: ws\n    flags: {{kind: unleash, url: '{url}', token: "
            "{env: BENCH_UNLEASH_TOKEN}}\n"
        )
        os.environ["BENCH_UNLEASH_TOKEN"] = token
        session = Session(load_config(cfg).profile("prod"))
        pipeline = Pipeline(session)
        flip = [{"v13": 90.0, "v14": 10.0}, {"v13": 80.0, "v14": 20.0}]
        state = {"i": 0}

        def execute() -> None:
            state["i"] += 1
            plan = pipeline.plan(SetWeights(key, flip[state["i"] % 2]))
            assert pipeline.execute(plan, OK).ok

        med, top = _ms(execute, rounds)
        print(f"unleash: plan + execute set_weights: median {med:6.1f} ms, max {top:6.1f} ms")
        session.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    flagd(args.records, args.rounds)
    unleash(args.rounds)


if __name__ == "__main__":
    main()
