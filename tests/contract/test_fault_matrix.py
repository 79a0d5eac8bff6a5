"""Every HTTP connector against every way a backend fails, on real local sockets.

Connectors x faults (``tests/fault_server.py``: refused, hang, slow drip of the
body and of the headers, 500, garbage, wrong shape, 401/403, huge body,
endless pages, the token echoed back). Each cell asserts that the read raises a
ConnectorError (never another exception), within a bounded time, with no
secret in the message, and that ``ping`` (what ``doctor`` shows) says "not ok"
without raising or leaking. Every connector runs with small limits (1 s per
read, 2 s deadline, 1 MiB body, 5 pages) so the matrix stays quick; the
defaults are only larger numbers of the same mechanism.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.errors import ConnectorError, InvalidResponse
from connectors.flags.litellm import LiteLLMModels
from connectors.flags.unleash import UnleashFlags
from connectors.logsources.litellm import LiteLLMSpendLogs
from connectors.metrics.prometheus import PrometheusMetrics
from connectors.policy.opa import OpaHttpPolicy
from connectors.records import BackendStatus
from connectors.registry.langfuse import LangfusePrompts
from connectors.registry.mlflow import MlflowRegistry
from connectors.replay.openai import OpenAICompatTarget
from connectors.support.http import Limits
from tests.fault_server import REST_MODES, closed_port_url, rest_fault_server

TOKEN = "SEKRIT-tok-4f9a2c7e1b"
PASSWORD = "PASSW0RD-url-77aa"
PUBLIC = "pk-lf-PUBLIC-0d3e9a"
SECRETS = (TOKEN, PASSWORD, PUBLIC, base64.b64encode(f"admin:{PASSWORD}".encode()).decode())
# 2 s deadline + one backoff + scheduling on a busy 2-core machine.
BOUND_S = 6.0
AT = datetime(2026, 11, 29, 12, tzinfo=UTC)
SMALL: dict[str, Any] = {"timeout": 1.0, "deadline": 2.0, "max_body_mb": 1}
SMALL_PAGED: dict[str, Any] = {**SMALL, "max_pages": 5}  # only the connectors that page

Build = Callable[[str], Any]


def _with_password(base: str) -> str:
    return base.replace("http://", f"http://admin:{PASSWORD}@")


def _prometheus(base: str) -> PrometheusMetrics:
    return PrometheusMetrics(url=base, token=TOKEN, retries=1, backoff=0.01, **SMALL)


def _mlflow(base: str) -> MlflowRegistry:
    return MlflowRegistry(url=_with_password(base), token=TOKEN, retries=1, **SMALL_PAGED)


def _langfuse(base: str) -> LangfusePrompts:
    return LangfusePrompts(
        url=_with_password(base), public_key=PUBLIC, secret_key=TOKEN, **SMALL_PAGED
    )


def _unleash(base: str) -> UnleashFlags:
    return UnleashFlags(url=_with_password(base), token=TOKEN, **SMALL)


def _litellm_flags(base: str) -> LiteLLMModels:
    return LiteLLMModels(url=_with_password(base), api_key=TOKEN, team_id="t-gw", **SMALL)


def _litellm_logs(base: str) -> LiteLLMSpendLogs:
    limits = Limits(deadline_s=2.0, max_bytes=1024 * 1024, max_pages=5)
    return LiteLLMSpendLogs(_with_password(base), TOKEN, timeout_s=1.0, limits=limits)


def _opa(base: str) -> OpaHttpPolicy:
    return OpaHttpPolicy(
        url=_with_password(base), token=TOKEN, timeout_s=1.0, deadline=2.0, max_body_mb=1
    )


def _openai(base: str) -> OpenAICompatTarget:
    return OpenAICompatTarget(
        url=_with_password(base) + "/v1",
        api_key=TOKEN,
        timeout=1.0,
        connect_timeout=1.0,
        retries=1,
        backoff=0.01,
        deadline=2.0,
        max_body_mb=1,
    )


def _complete(t: OpenAICompatTarget) -> Any:
    return asyncio.run(t.complete([{"role": "user", "content": "hi"}], {"seed": 1}, "m"))


# name -> (build, one real read, the field a wrong-shaped answer must be named by)
CONNECTORS: dict[str, tuple[Build, Callable[[Any], Any], str]] = {
    "prometheus": (
        _prometheus,
        lambda m: m.instant("requests", AT - timedelta(hours=1), AT),
        "data",
    ),
    "mlflow": (_mlflow, lambda r: r.entries("prompt"), "latest_versions"),
    "langfuse": (_langfuse, lambda r: r.names(), "data"),
    "unleash": (_unleash, lambda f: f.flags(), "events"),
    "litellm_flags": (_litellm_flags, lambda f: f.flags(), "data"),
    "litellm_logs": (_litellm_logs, lambda s: list(s.read(AT, AT + timedelta(hours=1))), "data"),
    "opa": (_opa, lambda p: p.evaluate({"user": "u"}), "deny"),
    "openai": (_openai, _complete, "choices"),
}
PAGED = {"mlflow", "langfuse", "litellm_logs"}
MODES = ("refused", *REST_MODES)
CELLS = [
    (c, m) for c in CONNECTORS for m in MODES if not (m.startswith("pages") and c not in PAGED)
]


@pytest.fixture(scope="module")
def faults() -> Iterator[Any]:
    with rest_fault_server() as server:
        yield server


def _base(faults: Any, mode: str) -> str:
    return closed_port_url().removesuffix("/v1") if mode == "refused" else faults.base(mode)


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.parametrize(("connector", "mode"), CELLS, ids=[f"{c}-{m}" for c, m in CELLS])
def test_fault_cell(faults: Any, connector: str, mode: str) -> None:
    build, read, shape_field = CONNECTORS[connector]
    conn = build(_base(faults, mode))
    started = time.monotonic()
    with pytest.raises(ConnectorError) as info:  # anything else fails the cell
        read(conn)
    took = time.monotonic() - started
    message = str(info.value)
    assert took < BOUND_S, f"{connector}/{mode}: {took:.1f} s: {message}"
    assert not _leaks(message), message
    assert "\n" not in message and message
    if mode == "shape":
        assert isinstance(info.value, InvalidResponse) and shape_field in message, message
    if mode in ("huge",):
        assert "max_body_mb" in message, message
    if mode.startswith("pages"):
        assert "pages" in message or "cursor" in message, message
    if mode in ("hang", "drip", "drip_headers"):
        assert any(w in message for w in ("deadline", "timed out", "timeout")), message

    if connector == "litellm_logs":
        return  # an ingest source: no ping, doctor does not check it
    started = time.monotonic()
    status = conn.ping()
    took = time.monotonic() - started
    assert isinstance(status, BackendStatus)
    assert took < BOUND_S, f"{connector}/{mode} ping: {took:.1f} s"
    assert not _leaks(status.detail), status.detail
    if not mode.startswith("pages"):  # one page of a paged list is a good answer
        assert not status.ok, f"{connector}/{mode}: doctor would say ok: {status.detail}"


# -- the wrong shapes named in the reliability issue, one field at a time -------------
def _mock(routes: dict[str, Any]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        for prefix, doc in routes.items():
            if request.url.path.startswith(prefix):
                return httpx.Response(200, json=doc)
        return httpx.Response(404, json={"message": "not found"})

    return httpx.MockTransport(answer)


def test_mlflow_latest_versions_a_number() -> None:
    routes = {"/api/2.0/mlflow/registered-models/search": {
        "registered_models": [{"name": "p", "latest_versions": 5}]}}  # fmt: skip
    reg = MlflowRegistry(url="http://mlflow", transport=_mock(routes))
    with pytest.raises(InvalidResponse, match=r"MLflow at http://mlflow: field latest_versions"):
        reg.entries()


def test_unleash_environments_of_numbers_and_a_list_for_ui_config() -> None:
    feature = {"name": "f", "environments": [7]}
    flags = UnleashFlags(url="http://unleash", token=TOKEN,
                         transport=_mock({"/api/admin/projects": feature}))  # fmt: skip
    with pytest.raises(InvalidResponse, match=r"unleash at http://unleash: .*environments"):
        flags.flag("f")
    ui = UnleashFlags(url="http://unleash", token=TOKEN, transport=_mock({
        "/health": {"health": "GOOD"}, "/api/admin/ui-config": [1, 2]}))  # fmt: skip
    status = ui.ping()
    assert not status.ok and "ui-config" in status.detail and "list" in status.detail


def test_opa_deny_a_number() -> None:
    opa = OpaHttpPolicy(url="http://opa", transport=_mock({"/v1/data": {"result": {"deny": 5}}}))
    with pytest.raises(InvalidResponse, match=r"OPA at http://opa: .*result\.deny is int"):
        opa.evaluate({})


def test_doctor_reads_each_capability(
    faults: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Wrong-shaped backends whose /health is fine: doctor used to say "ok" for
    MLflow and OPA (health only) and LiteLLM flags (never contacted)."""
    from console.cli import main

    base = _with_password(faults.base("shape"))
    monkeypatch.setenv("LLMDECK_TEST_FAULT_TOKEN", TOKEN)
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n"
        f"    registry: {{kind: mlflow, url: '{base}', token: {{env: LLMDECK_TEST_FAULT_TOKEN}}}}\n"
        f"    flags: {{kind: litellm, url: '{base}', team_id: t,"
        " api_key: {env: LLMDECK_TEST_FAULT_TOKEN}}\n"
        f"    policy: {{kind: opa, url: '{base}', token: {{env: LLMDECK_TEST_FAULT_TOKEN}}}}\n"
    )
    assert main(["--config", str(cfg), "doctor"]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    for capability, field in (("registry", "latest_versions"), ("flags", "data"),
                              ("policy", "deny")):  # fmt: skip
        assert "FAILED" in rows[capability] and field in rows[capability], out
    assert not _leaks(out), out
