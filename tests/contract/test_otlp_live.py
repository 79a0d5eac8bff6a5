"""Regenerate the OTLP fixture live: the official openai client, instrumented
with opentelemetry-instrumentation-openai-v2, calls the real llama.cpp server;
the spans written as OTLP/JSON are ingested and read back with the right
model, parameters, seed, tokens and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connectors.logsources import otlp
from connectors.logsources.mapping import Problem
from connectors.records import RequestRecord
from tests.backends import llama_url  # noqa: F401  (pytest fixture)

MAKE = Path(__file__).parent.parent / "fixtures" / "make_otlp.py"


@pytest.mark.backend("llama")
def test_regenerated_spans_map_onto_records(llama_url: str, tmp_path: Path) -> None:  # noqa: F811
    pytest.importorskip("opentelemetry.instrumentation.openai_v2")  # the test extra
    out = tmp_path / "spans.json"
    proc = subprocess.run(
        [sys.executable, str(MAKE), "--url", llama_url, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    items = list(otlp.read(out))
    assert not [i for i in items if isinstance(i, Problem)]
    recs = {r.request_id: r for r in items if isinstance(r, RequestRecord)}
    first, tool = recs["otel-req-0001"], recs["otel-req-0002"]
    assert first.model_name == "smollm2-135m"
    assert first.params == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 24, "seed": 42}
    assert first.tokens_in > 0 and 0 < first.tokens_out <= 24 and first.output
    assert [m["role"] for m in first.messages] == ["system", "user"]
    assert first.route == "/support/chat" and first.prompt_version == "14"
    assert [m["role"] for m in tool.messages] == ["user", "assistant", "tool"]
    assert tool.messages[1]["tool_calls"][0]["id"] == "call_1"
    # llama.cpp is deterministic for a fixed seed: the committed fixture's output
    # is what the same request gives now.
    committed = {
        r.request_id: r
        for r in otlp.read(Path(__file__).parent.parent / "fixtures" / "otlp" / "openai_llama.json")
        if isinstance(r, RequestRecord)
    }
    assert first.output == committed["otel-req-0001"].output
