"""The OpenAI-compatible replay target against a misbehaving server on a real
local socket (tests/fault_server.py): every fault maps onto a connector error
with a one-line message, and retries honour Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import AuthError, BackendUnavailable, InvalidResponse
from connectors.replay.openai import OpenAICompatTarget, parse_retry_after
from tests.fault_server import SLOW_S, FaultServer, closed_port_url, fault_server

MSGS = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def server() -> FaultServer:
    with fault_server() as s:
        yield s  # type: ignore[misc]


def target(url: str, **kw: object) -> OpenAICompatTarget:
    opts: dict[str, object] = {"retries": 2, "backoff": 0.05, "timeout": 5.0}
    opts.update(kw)
    return OpenAICompatTarget(url=url, model="m", **opts)  # type: ignore[arg-type]


async def test_ok_sends_exact_params_and_reads_usage(server: FaultServer) -> None:
    t = target(server.base("ok"))
    c = await t.complete(MSGS, {"seed": 42, "temperature": 0.7, "max_tokens": 9}, "")
    await t.aclose()
    assert c.text == "echo: hello there"
    assert (c.tokens_in, c.tokens_out, c.system_fingerprint) == (10, 3, "fp_test")
    assert c.latency_ms > 0
    body = server.seen[-1].body
    assert body == {
        "seed": 42,
        "temperature": 0.7,
        "max_tokens": 9,
        "model": "m",
        "messages": MSGS,
        "stream": False,
    }


async def test_target_down_is_backend_unavailable() -> None:
    t = target(closed_port_url(), retries=1)
    with pytest.raises(BackendUnavailable, match=r"cannot connect .* after 2 attempt"):
        await t.complete(MSGS, {}, "")


async def test_slow_target_times_out_without_retry(server: FaultServer) -> None:
    t = target(server.base("slow"), timeout=SLOW_S / 4)
    before = server.hits["/slow/v1/chat/completions"]
    with pytest.raises(BackendUnavailable, match=r"no answer within 0.5 s \(timeout\)"):
        await t.complete(MSGS, {}, "")
    assert server.hits["/slow/v1/chat/completions"] == before + 1


async def test_429_waits_for_retry_after_then_succeeds(server: FaultServer) -> None:
    path = "/ratelimit/v1/chat/completions"
    t = target(server.base("ratelimit"), backoff=0.01)
    c = await t.complete(MSGS, {}, "")
    assert c.text == "echo: hello there"
    times = [s.at for s in server.seen if s.path == path]
    assert len(times) == 2
    # Retry-After: 1 was honoured rather than the 0.01 s backoff.
    assert times[1] - times[0] >= 0.95


async def test_retry_after_beyond_the_cap_fails_at_once(server: FaultServer) -> None:
    t = target(server.url + "/ratelimit/cap/v1", max_retry_after=0.5)
    with pytest.raises(BackendUnavailable, match=r"rate limited \(429\); retry after 1 s"):
        await t.complete(MSGS, {}, "")


async def test_503_is_retried(server: FaultServer) -> None:
    c = await target(server.base("flaky")).complete(MSGS, {}, "")
    assert c.text.startswith("echo:")
    assert server.hits["/flaky/v1/chat/completions"] == 2


async def test_500_gives_up_after_retries_with_the_server_message(server: FaultServer) -> None:
    path = "/error500/v1/chat/completions"
    with pytest.raises(BackendUnavailable, match=r"server error 500 after 3 attempt.*kaboom"):
        await target(server.base("error500")).complete(MSGS, {}, "")
    assert server.hits[path] == 3


async def test_invalid_json_is_invalid_response(server: FaultServer) -> None:
    with pytest.raises(InvalidResponse, match="answer is not JSON"):
        await target(server.base("badjson")).complete(MSGS, {}, "")


async def test_auth_key_is_sent_and_never_shown(server: FaultServer) -> None:
    good = target(server.base("auth"), api_key="sekrit")
    assert (await good.complete(MSGS, {}, "")).text.startswith("echo:")
    bad = target(server.base("auth"), api_key="wrong-key-123")
    with pytest.raises(AuthError) as info:
        await bad.complete(MSGS, {}, "")
    assert "wrong-key-123" not in str(info.value)
    assert "wrong-key-123" not in repr(bad)


def test_ping(server: FaultServer) -> None:
    assert target(server.base("ok")).ping().ok
    status = target(closed_port_url()).ping()
    assert not status.ok and "ConnectError" in status.detail


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(30)
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_retry_after_seconds_never_negative(value: float) -> None:
    parsed = parse_retry_after(repr(value))
    assert parsed is not None and parsed >= 0 and parsed == max(0.0, value)
