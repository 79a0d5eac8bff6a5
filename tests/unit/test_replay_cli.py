"""``llmdeck replay``, ``replay-batch`` and ``replays`` against the local fault
server (tests/fault_server.py): JSON output, exit codes, one-line errors,
export and A/B comparison of stored batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from connectors.base import RequestFilter
from console.cli import main
from console.core.session import Session
from tests.conftest import demo_profile
from tests.fault_server import FaultServer, fault_server


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with fault_server() as s:
        yield s


def workspace(ws: Path, url: str, production: bool = False) -> str:
    cfg = ws / "llmdeck.yaml"
    text = cfg.read_text().replace("http://127.0.0.1:18081/v1", url)
    if production:
        text = text.replace("model: smollm2-135m}", "model: smollm2-135m, production: true}")
    cfg.write_text(text)
    return str(cfg)


def ids(ws: Path, n: int, **flt: object) -> list[str]:
    s = Session(demo_profile(ws))
    log = s.request_log()
    assert log is not None
    page = log.page(RequestFilter(**flt), limit=300)  # type: ignore[arg-type]
    s.close()
    return [r.request_id for r in page.records if r.has_content][:n]


def test_replay_json_and_exit_codes(
    demo_copy: Path, server: FaultServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = workspace(demo_copy, server.base("ok"))
    rid = ids(demo_copy, 1, route="/analytics/sql", status="ok")[0]
    assert main(["--config", cfg, "replay", rid, "--repeat", "2", "--json"]) == 0
    (out,) = orjson.loads(capsys.readouterr().out)  # --json: one array
    assert out["verdict"] == "different" and out["distinct_outputs"] == 1
    assert out["request"]["repeat"] == 2 and out["output"].startswith("echo: ")
    assert "1 distinct output(s) in 2 repeats" in out["notes"]
    # hash-only record: a result that says why, exit 1
    s = Session(demo_profile(demo_copy))
    log = s.request_log()
    assert log is not None
    hashed = next(r for r in log.page(RequestFilter(), limit=300).records if not r.has_content)
    s.close()
    assert main(["--config", cfg, "replay", hashed.request_id]) == 1
    assert "reason: cannot replay: content not logged" in capsys.readouterr().out


def test_replay_errors_are_one_line(
    demo_copy: Path, server: FaultServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = workspace(demo_copy, server.base("ok"))
    assert main(["--config", cfg, "replay", "req_nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmdeck: ") and err.count("\n") == 1
    rid = ids(demo_copy, 1, status="ok")[0]
    assert main(["--config", cfg, "replay", rid, "--target", "staging"]) == 2
    assert "no replay target 'staging' (targets: local)" in capsys.readouterr().err
    assert main(["--config", cfg, "replay", rid, "--prompt-version", "99"]) == 1
    assert "cannot re-render with" in capsys.readouterr().out


def test_production_target_refused_from_the_cli(
    demo_copy: Path, server: FaultServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = workspace(demo_copy, server.base("ok"), production=True)
    rid = ids(demo_copy, 1, status="ok")[0]
    before = server.hits["/ok/v1/chat/completions"]
    assert main(["--config", cfg, "replay", rid]) == 2
    assert "marked production" in capsys.readouterr().err
    assert server.hits["/ok/v1/chat/completions"] == before


def test_batch_export_and_compare(
    demo_copy: Path, server: FaultServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = workspace(demo_copy, server.base("ok"))
    common = ["--config", cfg, "replay-batch", "--route", "/support/chat"]
    common += ["--prompt-version", "13", "--status", "ok", "--limit", "5", "--jsonl"]
    code = main([*common, "--with-version", "13"])
    first = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(first) == 5 and {r["prompt_version"] for r in first} == {"13"}
    assert code == (0 if all(r["verdict"] == "different" for r in first) else 1)
    main([*common, "--with-version", "14", "--export", str(tmp_path / "t.yaml"),
          "--format", "promptfoo"])  # fmt: skip
    second = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    replayed = [r for r in second if r["verdict"] != "not_replayable"]
    assert replayed and all("Be brief" in r["request"]["messages"][0]["content"] for r in replayed)
    cases = yaml.safe_load((tmp_path / "t.yaml").read_text())
    assert len(cases) == len(replayed)
    assert main(["--config", cfg, "replays", "--jsonl"]) == 0
    batches = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [b["n"] for b in batches] == [5, 5]
    b14, b13 = batches[0]["batch_id"], batches[1]["batch_id"]
    assert main(["--config", cfg, "replays", b13, "--compare", b14]) == 0
    assert "output differs from A's on" in capsys.readouterr().out
    out = tmp_path / "g.jsonl"
    assert main(["--config", cfg, "replays", b14, "--export", str(out)]) == 0
    assert len(out.read_text().splitlines()) == len(replayed)


def test_batch_over_budget_sends_nothing(
    demo_copy: Path, server: FaultServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = workspace(demo_copy, server.base("ok"))
    text = Path(cfg).read_text().replace("model: smollm2-135m", "model: gpt-4o-mini")
    Path(cfg).write_text(text)
    before = server.hits["/ok/v1/chat/completions"]
    args = ["--config", cfg, "replay-batch", "--route", "/support/chat", "--status", "ok"]
    assert main([*args, "--limit", "40", "--budget", "0.001"]) == 2
    assert "above the per-batch budget $0.0010" in capsys.readouterr().err
    assert server.hits["/ok/v1/chat/completions"] == before
