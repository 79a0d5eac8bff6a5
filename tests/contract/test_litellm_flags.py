"""LiteLLM model block/unblock through the write pipeline, on recorded
responses: LiteLLM's proxy cannot run here (docs/backends.md). The shapes follow
LiteLLM's documentation: ``GET /model/info`` (docs.litellm.ai/docs/proxy/
model_management: ``{"data": [{"model_name", "litellm_params", "model_info"}]}``),
``GET /team/info`` and ``POST /team/update`` with a team's ``models`` list
(docs.litellm.ai/docs/proxy/model_access, "Restrict models by team_id";
``{"team_id", "team_info": {"team_alias", "models"}}``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.errors import AuthError, Conflict
from connectors.flags import litellm as litellm_flags
from connectors.flags.litellm import LiteLLMModels
from console.actions import BlockModel, Confirmation, Pipeline
from console.core.config import load_config
from console.core.session import Session

MODEL_INFO = {
    "data": [
        {"model_name": "gpt-4o-mini", "litellm_params": {"model": "openai/gpt-4o-mini"},
         "model_info": {"id": "a1", "mode": "chat"}},
        {"model_name": "claude-3-5-haiku",
         "litellm_params": {"model": "anthropic/claude-3-5-haiku-20241022"},
         "model_info": {"id": "b2", "mode": "chat"}},
    ]
}  # fmt: skip


class Proxy:
    """The recorded proxy: team info that /team/update changes."""

    def __init__(self, models: list[str]) -> None:
        self.models = models
        self.updates: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != "Bearer sk-admin":
            return httpx.Response(401, json={"error": {"message": "Authentication Error"}})
        if request.url.path == "/model/info":
            return httpx.Response(200, json=MODEL_INFO)
        if request.url.path == "/team/info":
            info = {"team_alias": "gateway", "models": self.models}
            return httpx.Response(200, json={"team_id": "t-gw", "team_info": info})
        if request.url.path == "/team/update":
            body = json.loads(request.content)
            self.updates.append(body)
            self.models = body["models"]
            return httpx.Response(200, json={"team_id": "t-gw", "data": body})
        return httpx.Response(404, json={"detail": "Not Found"})


def _store(proxy: Proxy, key: str = "sk-admin") -> LiteLLMModels:
    return LiteLLMModels(url="http://litellm", api_key=key, team_id="t-gw",
                         transport=httpx.MockTransport(proxy))  # fmt: skip


def test_models_are_kill_switches_and_block_unblock() -> None:
    proxy = Proxy([])  # empty list: every model allowed
    store = _store(proxy)
    flags = {f.key: f for f in store.flags()}
    assert set(flags) == {"gpt-4o-mini", "claude-3-5-haiku"}
    assert all(f.is_kill_switch and not f.environments[0].enabled for f in flags.values())
    store.set_enabled("claude-3-5-haiku", "production", True, expected=flags["claude-3-5-haiku"])
    assert proxy.updates == [{"team_id": "t-gw", "models": ["gpt-4o-mini"]}]
    assert store.flag("claude-3-5-haiku").environments[0].enabled
    with pytest.raises(Conflict):
        store.set_enabled("claude-3-5-haiku", "production", False, expected=flags["gpt-4o-mini"])
    store.set_enabled("claude-3-5-haiku", "production", False,
                      expected=store.flag("claude-3-5-haiku"))  # fmt: skip
    assert proxy.models == ["claude-3-5-haiku", "gpt-4o-mini"]
    with pytest.raises(AuthError, match="401"):
        _store(proxy, "sk-wrong").flags()


def test_block_model_through_the_pipeline_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = Proxy(["gpt-4o-mini", "claude-3-5-haiku"])
    monkeypatch.setattr(
        litellm_flags.httpx, "HTTPTransport", lambda **_: httpx.MockTransport(proxy)
    )
    monkeypatch.setenv("LLMDECK_TEST_LITELLM_KEY", "sk-admin")
    (tmp_path / "llmdeck.yaml").write_text(
        "profiles:\n  gw:\n    environment: staging\n    workspace: ws\n"
        "    flags: {kind: litellm, url: 'http://litellm', team_id: t-gw,"
        " api_key: {env: LLMDECK_TEST_LITELLM_KEY}}\n"
    )
    session = Session(load_config(tmp_path / "llmdeck.yaml").profile("gw"))
    pipeline = Pipeline(session)
    outcome = pipeline.run(BlockModel("claude-3-5-haiku"), lambda p: Confirmation(True, "INC-7"))
    assert outcome.status == "done", outcome.message
    assert proxy.models == ["gpt-4o-mini"]
    row = session.store().execute("SELECT action, target, outcome FROM audit").fetchone()
    assert row == ("block_model", "claude-3-5-haiku", "done")
