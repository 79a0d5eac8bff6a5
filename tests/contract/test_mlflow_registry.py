"""The MLflow connector against a real MLflow 3.17.2 server, seeded with the official client.

The seeding and the reference view run in the MLflow venv (``tests/mlflow_seed.py``);
every name carries a per-run prefix so that runs and other tests never collide.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.errors import AuthError, BackendUnavailable, NotFound, ReadOnlyError
from connectors.registry.mlflow import MlflowRegistry
from connectors.workspace.schema import connect
from console.registry.view import alias_history, snapshot_aliases
from tests.backends import mlflow_python, mlflow_url  # noqa: F401  (fixture)

SEED = Path(__file__).parent.parent / "mlflow_seed.py"


def client(url: str, prefix: str, *args: str) -> str:
    proc = subprocess.run(
        [mlflow_python(), str(SEED), url, prefix, *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


PREFIXES: list[str] = []


def fresh_prefix() -> str:
    PREFIXES.append(f"t{uuid.uuid4().hex[:8]}")
    return PREFIXES[-1]


@pytest.fixture(scope="module", autouse=True)
def cleanup(mlflow_url: str) -> Iterator[None]:  # noqa: F811
    """Delete what this module registered: the server is shared with other tests."""
    yield
    with httpx.Client(base_url=mlflow_url + "/api/2.0/mlflow") as http:
        for prefix in PREFIXES:
            for kind in ("prompt", "model"):
                reg = MlflowRegistry(url=mlflow_url)
                for name in [n for n in reg.names(kind) if n.startswith(prefix + "-")]:
                    http.request("DELETE", "/registered-models/delete", json={"name": name})
                reg.close()


@pytest.fixture(scope="module")
def seeded(mlflow_url: str) -> str:  # noqa: F811
    prefix = fresh_prefix()
    client(mlflow_url, prefix, "seed")
    return prefix


@pytest.fixture
def registry(mlflow_url: str) -> Iterator[MlflowRegistry]:  # noqa: F811
    reg = MlflowRegistry(url=mlflow_url)
    yield reg
    reg.close()


def official(url: str, prefix: str) -> dict[str, Any]:
    return json.loads(client(url, prefix, "dump"))


def console_view(reg: MlflowRegistry, prefix: str) -> dict[str, Any]:
    """The connector's view in the shape of the official client's dump."""
    out: dict[str, Any] = {}
    for name in reg.names("prompt"):
        if not name.startswith(prefix + "-"):
            continue
        versions = []
        for v in reg.versions(name):
            versions.append(
                {
                    "version": v.version,
                    "template": v.template,
                    "messages": [dict(m) for m in v.messages] or None,
                    "model_config": dict(v.model_config),
                    "commit_message": v.description,
                    "tags": dict(v.tags),
                    "aliases": list(v.aliases),
                }
            )
        out[name] = {"kind": "prompt", "versions": versions}
    for name in reg.names("model"):
        if not name.startswith(prefix + "-"):
            continue
        versions = [
            {"version": v.version, "source": v.source, "description": v.description,
             "tags": dict(v.tags), "aliases": []}
            for v in reg.versions(name)
        ]  # fmt: skip
        aliases = {a.alias: a.version for a in reg.aliases(name)}
        out[name] = {"kind": "model", "aliases": aliases, "versions": versions}
    return out


def test_console_view_equals_official_client(
    mlflow_url: str,  # noqa: F811
    seeded: str,
    registry: MlflowRegistry,
) -> None:
    expected = official(mlflow_url, seeded)
    broken = f"{seeded}-broken"
    # The official client itself cannot read a version whose model config tag is
    # not JSON; the console lists it anyway and says what is wrong.
    assert expected.pop(broken)["versions"][0]["client_error"] == "JSONDecodeError"
    got = console_view(registry, seeded)
    (bv,) = got.pop(broken)["versions"]
    assert bv["template"] == "Hi {{name}}" and bv["model_config"] == {}
    assert any(e.startswith(f"{broken}@1:") and "not a JSON object" in e for e in registry.errors)
    assert got == expected
    # The seed has text and chat prompts with several versions and a model with aliases.
    assert got[f"{seeded}-summarize"]["versions"][1]["messages"][0]["role"] == "user"
    assert got[f"{seeded}-ranker"]["aliases"] == {"champion": "2"}


def test_prompts_and_models_are_listed_apart(seeded: str, registry: MlflowRegistry) -> None:
    prompts = {e.name: e for e in registry.entries("prompt") if e.name.startswith(seeded)}
    models = {e.name: e for e in registry.entries("model") if e.name.startswith(seeded)}
    assert set(prompts) == {f"{seeded}-support", f"{seeded}-summarize", f"{seeded}-broken"}
    assert set(models) == {f"{seeded}-ranker"}
    assert prompts[f"{seeded}-support"].latest == "3"
    assert models[f"{seeded}-ranker"].kind == "model"


def test_pagination_follows_page_tokens(
    mlflow_url: str,  # noqa: F811
    seeded: str,
    registry: MlflowRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = [e.name for e in registry.entries("prompt")]
    monkeypatch.setattr("connectors.registry.mlflow.PAGE", 2)
    calls: list[str] = []
    real = registry._call

    def spy(method: str, path: str, **kw: Any) -> dict[str, Any]:
        calls.append(path)
        return real(method, path, **kw)

    monkeypatch.setattr(registry, "_call", spy)
    assert [e.name for e in registry.entries("prompt")] == whole
    assert calls.count("/registered-models/search") >= 2


def test_get_by_version_and_alias(seeded: str, registry: MlflowRegistry) -> None:
    name = f"{seeded}-support"
    assert registry.get(name, "production").version == "1"
    assert registry.get(name, "2").aliases == ("canary",)
    with pytest.raises(NotFound, match="no such alias"):
        registry.get(name, "staging")
    with pytest.raises(NotFound, match="no such version"):
        registry.get(name, "99")
    with pytest.raises(NotFound, match="not in the MLflow registry"):
        registry.versions(f"{seeded}-missing")


def test_alias_moves_are_snapshotted_into_the_workspace(
    mlflow_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    prefix = fresh_prefix()
    client(mlflow_url, prefix, "seed")
    reg = MlflowRegistry(url=mlflow_url)
    conn: sqlite3.Connection = connect(tmp_path / "store.db")
    mine = [e for e in reg.entries("prompt") + reg.entries("model") if e.name.startswith(prefix)]
    assert snapshot_aliases(conn, reg.kind, mine) == 4  # one alias map per name
    assert snapshot_aliases(conn, reg.kind, mine) == 0  # unchanged: nothing new
    client(mlflow_url, prefix, "move")  # the official client moves the aliases
    mine = [e for e in reg.entries("prompt") + reg.entries("model") if e.name.startswith(prefix)]
    assert snapshot_aliases(conn, reg.kind, mine) == 2
    moves = [(m.alias, m.before, m.after) for m in alias_history(conn, f"{prefix}-support")]
    assert moves == [
        ("canary", None, "2"),
        ("production", None, "1"),
        ("canary", "2", "3"),
        ("production", "1", "2"),
    ]
    assert [(m.before, m.after) for m in alias_history(conn, f"{prefix}-ranker")][-1] == ("2", "3")
    reg.close()


def test_set_alias_writes_and_read_only_refuses(
    mlflow_url: str,  # noqa: F811
    seeded: str,
) -> None:
    name = f"{seeded}-summarize"
    ro = MlflowRegistry(url=mlflow_url, read_only=True)
    with pytest.raises(ReadOnlyError):
        ro.set_alias(name, "production", "2")
    assert ro.get(name, "production").version == "1"
    rw = MlflowRegistry(url=mlflow_url)
    rw.set_alias(name, "staging", "2")
    assert rw.get(name, "staging").version == "2"
    with pytest.raises(NotFound):
        rw.set_alias(name, "staging", "42")


def test_mlflow_down_is_one_clear_line() -> None:
    reg = MlflowRegistry(url="http://127.0.0.1:9", timeout=1, retries=0)
    with pytest.raises(BackendUnavailable) as exc:
        reg.entries("prompt")
    assert str(exc.value) == (
        "MLflow at http://127.0.0.1:9: /registered-models/search: unreachable (ConnectError)"
    )
    assert not reg.ping().ok


@pytest.fixture
def refusing_server() -> Iterator[tuple[str, list[str]]]:
    """A tiny local server that answers 401 or 403 (MLflow here runs without auth)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            code = 401 if "search" in self.path else 403
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error_code": "UNAUTHENTICATED"}')

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def test_401_and_403_are_auth_errors_without_the_token(
    refusing_server: tuple[str, list[str]],
) -> None:
    url, seen = refusing_server
    reg = MlflowRegistry(url=url, token="s3cret-token")
    with pytest.raises(AuthError, match=r"HTTP 401") as e401:
        reg.entries("prompt")
    with pytest.raises(AuthError, match=r"HTTP 403") as e403:
        reg.versions("x")
    assert seen[0] == "Bearer s3cret-token"  # the token was sent...
    assert "s3cret" not in str(e401.value) + str(e403.value)  # ...and never shown


def test_malformed_prompt_tags_are_read_and_reported() -> None:
    """Version items as model-versions/search returns them, with broken tags (no server)."""
    reg = MlflowRegistry(url="http://127.0.0.1:9")
    chat = reg._version(
        {"name": "p", "version": "3", "description": "oops", "tags": [
            {"key": "mlflow.prompt.is_prompt", "value": "true"},
            {"key": "_mlflow_prompt_type", "value": "chat"},
            {"key": "mlflow.prompt.text", "value": "[{\"content\": \"no role\"}]"},
            {"key": "_mlflow_prompt_model_config", "value": "[1, 2]"},
            {"key": "team", "value": "x"},
        ]},
        {"production": "3"},
    )  # fmt: skip
    assert chat.kind == "prompt" and chat.messages == ()
    assert chat.template == '[{"content": "no role"}]'  # shown as text rather than lost
    assert chat.model_config == {} and chat.tags == {"team": "x"}
    assert chat.aliases == ("production",) and chat.description == "oops"
    empty = reg._version(
        {
            "name": "p",
            "version": "4",
            "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}],
        },
        {},
    )
    assert empty.template is None and empty.created_at is None
    assert reg.errors == [
        "p@3: chat mlflow.prompt.text is not a list of messages",
        "p@3: _mlflow_prompt_model_config is not a JSON object",
        "p@4: no mlflow.prompt.text tag (empty template)",
    ]
    reg.close()
