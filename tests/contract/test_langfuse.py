"""The Langfuse prompts connector on recorded responses.

Langfuse cannot run here (it needs ClickHouse, Redis and S3 besides
PostgreSQL), so its answers are replayed from ``tests/recorded/langfuse/``.
Their shape is taken from Langfuse's API reference, https://api.reference.langfuse.com
(OpenAPI spec: https://cloud.langfuse.com/generated/api/openapi.yml): the
``Prompts`` endpoints ``GET /api/public/v2/prompts`` (PromptMetaListResponse:
``data`` of PromptMeta and ``meta`` with ``totalPages``), ``GET
/api/public/v2/prompts/{promptName}?version=|label=`` (TextPrompt/ChatPrompt,
chat messages including ``placeholder`` slots) and ``PATCH
/api/public/v2/prompts/{name}/versions/{version}`` (PromptVersionUpdateRequest
``newLabels``), with HTTP Basic auth (public key, secret key).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.errors import AuthError, InvalidChange, NotFound, ReadOnlyError
from connectors.registry.langfuse import LangfusePrompts
from console.diff.compare import compare

RECORDED = Path(__file__).parent.parent / "recorded" / "langfuse"
API = "/api/public/v2/prompts"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


class FakeLangfuse:
    """Serves the recorded answers the way Langfuse routes them."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.versions = {
            (d["name"], d["version"]): d
            for d in (recorded(f.name) for f in RECORDED.glob("*_v*.json"))
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        auth = request.headers.get("Authorization", "")
        if auth != "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-2").decode():
            return httpx.Response(401, json=recorded("error_401.json"))
        path, q = request.url.path, request.url.params
        if path == API:
            pages = [recorded("list_page1.json"), recorded("list_page2.json")]
            if "name" in q:
                data = [m for p in pages for m in p["data"] if m["name"] == q["name"]]
                return httpx.Response(200, json={"data": data, "meta": {"totalPages": 1}})
            return httpx.Response(200, json=pages[int(q.get("page", 1)) - 1])
        parts = path.removeprefix(API + "/").split("/")
        name = parts[0]
        if request.method == "PATCH":
            version = int(parts[2])
            labels = json.loads(request.content)["newLabels"]
            for (n, _), d in self.versions.items():  # labels are unique across versions
                if n == name:
                    d["labels"] = [x for x in d["labels"] if x not in labels]
            self.versions[(name, version)]["labels"] += labels
            return httpx.Response(200, json=self.versions[(name, version)])
        for (n, v), d in self.versions.items():
            if n == name and (
                ("version" in q and int(q["version"]) == v)
                or ("label" in q and q["label"] in d["labels"])
            ):
                return httpx.Response(200, json=d)
        return httpx.Response(404, json=recorded("error_404.json"))


@pytest.fixture
def fake() -> FakeLangfuse:
    return FakeLangfuse()


def connect(fake: FakeLangfuse, **kw: Any) -> LangfusePrompts:
    options = {"public_key": "pk-lf-1", "secret_key": "sk-lf-2", **kw}
    return LangfusePrompts(url="https://lf.example", transport=httpx.MockTransport(fake), **options)


def test_listing_follows_pages_and_labels_are_aliases(fake: FakeLangfuse) -> None:
    lf = connect(fake)
    entries = {e.name: e for e in lf.entries("prompt")}
    assert set(entries) == {"support-answer", "ticket-triage"}  # one per page
    pages = [r.url.params.get("page") for r in fake.requests if r.url.path == API]
    assert "1" in pages and "2" in pages
    assert entries["support-answer"].latest == "3"
    assert dict(entries["support-answer"].aliases) == {
        "canary": "3",
        "latest": "3",
        "production": "2",
    }
    assert lf.names("model") == [] and lf.entries("model") == []


def test_text_versions_with_config_and_commit_message(fake: FakeLangfuse) -> None:
    lf = connect(fake)
    versions = lf.versions("support-answer")
    assert [v.version for v in versions] == ["1", "2", "3"]
    v2 = versions[1]
    assert (
        v2.template == "Answer {{question}} using {{context}}. Be friendly. Never promise refunds."
    )
    assert v2.description == "no refund promises" and v2.author == "dev"
    assert v2.aliases == ("production",) and v2.tags == {"support": ""}
    assert v2.created_at is not None and v2.created_at.isoformat() == "2026-11-27T10:00:00+00:00"
    assert versions[2].description == ""  # commitMessage null
    d = compare(lf.get("support-answer", "production"), lf.get("support-answer", "canary"))
    changed = {c.key: (c.before, c.after) for c in d.config if c.status == "changed"}
    assert changed == {"max_tokens": (400, 200), "temperature": (0.7, 0.2)}


def test_chat_versions_keep_placeholders(fake: FakeLangfuse) -> None:
    v2 = connect(fake).get("ticket-triage", "2")
    assert [m["role"] for m in v2.messages] == ["system", "placeholder", "user"]
    assert v2.messages[1]["content"] == "{{history}}"
    assert v2.model_config == {"temperature": 0, "response_format": {"type": "json_object"}}


def test_unknown_label_version_and_name(fake: FakeLangfuse) -> None:
    lf = connect(fake)
    with pytest.raises(NotFound, match="no such label"):
        lf.get("support-answer", "staging")
    with pytest.raises(NotFound, match="no such version"):
        lf.get("support-answer", "9")
    with pytest.raises(NotFound, match="not in Langfuse"):
        lf.versions("nope")


def test_set_alias_moves_the_label(fake: FakeLangfuse) -> None:
    lf = connect(fake)
    lf.set_alias("support-answer", "production", "3")
    patch = next(r for r in fake.requests if r.method == "PATCH")
    assert patch.url.path == f"{API}/support-answer/versions/3"
    assert json.loads(patch.content) == {"newLabels": ["production"]}
    assert lf.get("support-answer", "production").version == "3"
    with pytest.raises(InvalidChange, match="managed by Langfuse"):
        lf.set_alias("support-answer", "latest", "1")
    with pytest.raises(ReadOnlyError):
        connect(fake, read_only=True).set_alias("support-answer", "production", "2")


def test_bad_keys_are_an_auth_error_without_secrets(fake: FakeLangfuse) -> None:
    lf = connect(fake, secret_key="sk-wrong-secret")
    with pytest.raises(AuthError) as exc:
        lf.names()
    assert "HTTP 401" in str(exc.value) and "sk-wrong" not in str(exc.value)
    assert not lf.ping().ok
