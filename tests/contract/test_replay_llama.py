"""Replay against the real llama.cpp server with SmolLM2-135M (docs/backends.md).

A request is "logged" by calling the server once and recording what it
answered; replaying it with the logged seed must give the same text, and
another seed a different one."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from connectors.base import RequestFilter
from connectors.records import RequestRecord
from connectors.workspace.store import insert_records
from console.cli import main
from console.core.session import Session
from console.replay import fidelity, store
from console.replay.engine import Replayer, ReplayOptions
from tests.backends import llama_url  # noqa: F401  (pytest fixture)
from tests.conftest import FIXED_NOW, demo_profile

pytestmark = pytest.mark.backend("llama")
MODEL = "smollm2-135m"


@pytest.fixture
def ws(demo_copy: Path, llama_url: str) -> Path:  # noqa: F811
    """The demo workspace with its ``local`` target pointed at the test server."""
    cfg = demo_copy / "llmdeck.yaml"
    cfg.write_text(cfg.read_text().replace("http://127.0.0.1:18081/v1", llama_url))
    return demo_copy


@pytest.fixture
def session(ws: Path, frozen_clock: object) -> Iterator[Session]:
    s = Session(demo_profile(ws))
    yield s
    s.close()


def log_request(
    url: str, session: Session, rid: str, content: str, seed: int, max_tokens: int = 12
) -> RequestRecord:
    """Call the server once and store what it answered as a logged request."""
    params = {"temperature": 0.8, "top_p": 1.0, "max_tokens": max_tokens, "seed": seed}
    messages = ({"role": "user", "content": content},)
    resp = httpx.post(
        url + "/chat/completions",
        json={"model": MODEL, "messages": list(messages), **params},
        timeout=120,
    )
    resp.raise_for_status()
    data = resp.json()
    rec = RequestRecord(
        request_id=rid,
        ts=FIXED_NOW - timedelta(minutes=1),
        route="/test",
        model_name=MODEL,
        params=params,
        messages=messages,
        output=data["choices"][0]["message"]["content"],
        tokens_in=data["usage"]["prompt_tokens"],
        tokens_out=data["usage"]["completion_tokens"],
        system_fingerprint=data.get("system_fingerprint") or "",
    )
    insert_records(session.store(), [rec])
    return rec


async def test_logged_seed_replays_identically_and_another_seed_differs(
    session: Session,
    llama_url: str,  # noqa: F811
) -> None:
    rec = log_request(llama_url, session, "req_llama_seed", "Tell me a story about a cat.", 1234)
    assert rec.output
    same = Replayer(session, ReplayOptions(repeat=2))
    result = await same.replay(rec)
    await same.aclose()
    assert result.verdict == fidelity.IDENTICAL, (rec.output, result.output)
    assert result.output == rec.output and result.distinct_outputs == 1
    assert result.similarity == 1.0 and result.tokens_out == 2 * rec.tokens_out

    other = Replayer(session, ReplayOptions(seed=98765))
    result = await other.replay(rec)
    await other.aclose()
    assert result.request["params"]["seed"] == 98765
    assert result.verdict == fidelity.DIFFERENT, (rec.output, result.output)
    assert result.similarity is not None and result.similarity < 0.8


def test_cli_replay_json(
    ws: Path,
    session: Session,
    llama_url: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    rec = log_request(llama_url, session, "req_llama_cli", "Name three colours.", 77)
    code = main(["--config", str(ws / "llmdeck.yaml"), "replay", rec.request_id, "--json"])
    (out,) = orjson.loads(capsys.readouterr().out)  # --json: one array
    assert code == 0
    assert out["verdict"] == "identical" and out["logged_output"] == rec.output
    assert out["request"]["params"]["seed"] == 77 and out["target"] == "local"
    stored = store.get(session.store(), out["replay_id"])
    assert stored is not None and stored.verdict == "identical"


async def test_other_prompt_version_rerenders_the_variables(
    session: Session,
) -> None:
    log = session.request_log()
    assert log is not None
    page = log.page(
        RequestFilter(route="/support/chat", prompt_version="13", status="ok"), limit=50
    )
    rec = next(r for r in page.records if r.has_content and r.variables)
    # Keep the real model's answer short; every other parameter stays as logged.
    rec = dataclasses.replace(rec, params={**rec.params, "max_tokens": 8})
    replayer = Replayer(session, ReplayOptions(prompt_version="14"))
    result = await replayer.replay(rec)
    await replayer.aclose()
    assert result.verdict in ("similar", "different"), result.error
    assert result.prompt_version == "14" and result.output
    sent = result.request["messages"]
    assert "Be brief. Refuse anything not covered" in sent[0]["content"]
    assert rec.variables is not None and str(rec.variables["context"]) in sent[0]["content"]
    assert sent[1]["content"] == rec.variables["question"]
    assert result.request["params"]["seed"] == rec.params["seed"]


async def test_batch_of_50_with_concurrency_4_completes_and_is_stored(
    session: Session,
) -> None:
    recs = [
        RequestRecord(
            request_id=f"req_llama_batch_{i:02d}",
            ts=FIXED_NOW - timedelta(seconds=i),
            model_name=MODEL,
            params={"temperature": 0.7, "max_tokens": 6, "seed": i},
            messages=({"role": "user", "content": f"Say the number {i}."},),
            output=f"The number is {i}.",
        )
        for i in range(50)
    ]
    insert_records(session.store(), recs)
    in_flight: list[int] = []
    replayer = Replayer(session, ReplayOptions())
    report = await replayer.batch(recs, concurrency=4, progress=lambda p: in_flight.append(p.done))
    await replayer.aclose()
    assert not report.cancelled and len(report.results) == 50
    assert in_flight == list(range(1, 51))
    assert all(r.verdict in ("identical", "similar", "different") for r in report.results), {
        r.verdict: r.error for r in report.results
    }
    stored = store.for_batch(session.store(), report.batch_id)
    assert sorted(r.request_id for r in stored) == sorted(r.request_id for r in recs)
    assert all(r.output for r in stored)
