"""The central scrubber: no secret in any message or stored text, whatever its
source (issue 14, defect 6)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.errors import BackendUnavailable, ConnectorError
from connectors.records import RequestRecord
from connectors.support import redact
from connectors.support.redact import redact_url, remember, scrub
from connectors.workspace.schema import connect
from console.core.errors import ConfigError, LlmdeckError
from console.requests.query import as_curl

TOKEN = "tok-9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def test_known_values_and_credential_shapes_are_masked() -> None:
    remember(TOKEN, "http://admin:hunter2hunter2@db.example/x?api_key=QKEY123456&page=2")
    text = scrub(
        f"echo {TOKEN}; url http://bob:pw-in-url-77@h.example:9/v1?token=abcdef123&x=1;"
        " Authorization: Bearer ey-something-long; key QKEY123456; sk-live-abcdef123456;"
        " bot http://h.example/bot/AbCdEf0123456789AbCdEf0123/send; hunter2hunter2"
    )
    secrets = [TOKEN, "pw-in-url-77", "abcdef123", "ey-something-long", "QKEY123456"]
    secrets += ["sk-live-abcdef123456", "AbCdEf0123456789AbCdEf0123", "hunter2hunter2"]
    for secret in secrets:
        assert secret not in text, text
    # What explains the error stays: host, port, path, other parameters.
    assert "http://h.example:9/v1?token=***&x=1" in text
    assert scrub("profiles.p.api_key: environment variable X is not set").endswith("not set")
    assert scrub("MLflow at http://127.0.0.1:9: /search: timed out") == (
        "MLflow at http://127.0.0.1:9: /search: timed out"
    )


def test_every_error_is_scrubbed_when_made() -> None:
    remember(TOKEN)
    for cls in (ConnectorError, BackendUnavailable, LlmdeckError, ConfigError):
        assert TOKEN not in str(cls(f"backend said: invalid key {TOKEN}"))
    assert issubclass(ConnectorError, LlmdeckError)  # one base: the CLI and the App catch it


def test_redact_url_drops_userinfo_query_and_path_tokens() -> None:
    assert redact_url("https://u:p@h:8443/v1/keys/AbCdEf0123456789AbCdEf0123?key=k#f") == (
        "https://h:8443/v1/keys/***"
    )
    assert redact_url("http://127.0.0.1:18080/v1") == "http://127.0.0.1:18080/v1"


def test_curl_export_copies_no_credentials_of_the_target_url() -> None:
    rec = RequestRecord(
        request_id="r1",
        ts=datetime(2026, 11, 29, tzinfo=UTC),
        model_name="m",
        messages=({"role": "user", "content": "hi"},),
    )
    text = as_curl(rec, "https://admin:PW-secret-1@llm.example/v1?api_key=QK-secret-2")
    assert "PW-secret-1" not in text and "QK-secret-2" not in text and "admin" not in text
    assert "https://llm.example/v1/chat/completions" in text


def test_litellm_source_credentials_are_not_stored_or_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LiteLLM URL with userinfo and a query key: ingest_progress and the error
    name the redacted URL; a proxy echoing the key in its 500 body is scrubbed."""
    from connectors.logsources import litellm
    from console.ingest.runner import expand, ingest
    from tests.unit.test_logsources import spend_row

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["start_date"].startswith("2026-11-29 09"):
            echo = f"bad key {request.headers['Authorization']} for {request.url}"
            return httpx.Response(500, json={"error": {"message": echo}})
        rows = [spend_row(1, "2026-11-29T08:10:00.000Z")]
        return httpx.Response(200, json={"data": rows, "total_pages": 1})

    real = litellm.LiteLLMSpendLogs

    class Recorded(real):  # type: ignore[misc,valid-type]
        def __init__(self, url: str, api_key: str = "", **kw: object) -> None:
            super().__init__(url, api_key, transport=httpx.MockTransport(handler))

    monkeypatch.setattr(litellm, "LiteLLMSpendLogs", Recorded)
    conn: sqlite3.Connection = connect(tmp_path / "store.db")
    url = "http://admin:URLPASS-123@litellm.test/?api_key=QUERYKEY-456"
    sources, _ = expand([f"litellm:{url}"])
    since = datetime(2026, 11, 29, 8, tzinfo=UTC)
    with pytest.raises(LlmdeckError) as info:
        ingest(conn, sources, litellm_key=TOKEN, since=since, until=since + timedelta(hours=2))
    stored = " ".join(str(r) for r in conn.execute("SELECT * FROM ingest_progress"))
    assert stored  # the first window was kept
    for text in (str(info.value), stored):
        for secret in ("URLPASS-123", "QUERYKEY-456", TOKEN):
            assert secret not in text, text
