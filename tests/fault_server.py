"""A small OpenAI-compatible server on a real local socket that misbehaves on
purpose, for the replay target's fault tests.

The first path segment picks the behaviour, so one server serves every case:
``http://127.0.0.1:PORT/<mode>/v1/chat/completions`` with mode

- ``ok``: answers ``echo: <last user message>`` (with usage and a fingerprint)
- ``slow``: waits ``SLOW_S`` seconds, then answers like ``ok``
- ``ratelimit``: the first request on a path gets 429 with ``Retry-After: 1``
- ``flaky``: the first request on a path gets 503, the next ones answer
- ``error500``: always 500 with an OpenAI-style error body
- ``badjson``: 200 with a body that is not JSON
- ``auth``: 401 unless ``Authorization: Bearer sekrit``
- ``mixed``: by the request's ``seed`` modulo 3: 0 -> 500, 1 -> not JSON, 2 -> ok

The shape of a successful answer follows OpenAI's chat-completions reference
(``choices[0].message.content``, ``finish_reason``, ``usage``,
``system_fingerprint``), which the llama.cpp server also follows.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLOW_S = 2.0


@dataclass
class Seen:
    path: str
    at: float
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FaultServer:
    url: str
    seen: list[Seen] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)

    def base(self, mode: str) -> str:
        return f"{self.url}/{mode}/v1"


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    user = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = "echo: " + str(user[-1]["content"] if user else "")
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": body.get("model", ""),
        "system_fingerprint": "fp_test",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split())},
    }


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    """Start the server on a free port; stop it on exit."""
    lock = threading.Lock()
    state = FaultServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._send(200, json.dumps({"data": [{"id": "fake"}]}).encode())

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            mode = self.path.strip("/").split("/")[0]
            with lock:
                state.seen.append(Seen(self.path, time.monotonic(), dict(self.headers), body))
                state.hits[self.path] += 1
                hit = state.hits[self.path]
            ok = json.dumps(_answer(body or {})).encode()
            if mode == "slow":
                time.sleep(SLOW_S)
                self._send(200, ok)
            elif mode == "ratelimit" and hit == 1:
                self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "1"})
            elif mode == "flaky" and hit == 1:
                self._send(503, b'{"error": {"message": "overloaded"}}')
            elif mode == "mixed" and (body or {}).get("seed", 2) % 3 != 2:
                if (body or {}).get("seed", 2) % 3 == 0:
                    self._send(500, b'{"error": {"message": "internal kaboom"}}')
                else:
                    self._send(200, b"<html>not json{")
            elif mode == "error500":
                self._send(500, b'{"error": {"message": "internal kaboom"}}')
            elif mode == "badjson":
                self._send(200, b"<html>not json{")
            elif mode == "auth" and self.headers.get("Authorization") != "Bearer sekrit":
                self._send(401, b'{"error": {"message": "bad key"}}')
            else:
                self._send(200, ok)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """A base URL where nothing listens (a port just bound and released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# -- a REST backend that fails in every way at once ---------------------------------
# The first path segment picks the fault, for any method and any path below it, so
# one server serves every connector of the fault matrix
# (tests/contract/test_fault_matrix.py): ``http://127.0.0.1:PORT/<mode>/...``.
REST_MODES = (
    "hang",  # reads the request, never answers
    "drip",  # 200 and a body of one byte every DRIP_S seconds, for ever
    "drip_headers",  # the status line and headers, one byte every DRIP_S seconds
    "e500",  # 500 whose body echoes the request's credentials
    "garbage",  # 200 with bytes that are not JSON
    "shape",  # 200 with JSON whose every known field has the wrong type
    "e401",  # 401 echoing the credentials
    "e403",  # 403 echoing the credentials
    "huge",  # 200 with HUGE_BYTES of valid-looking JSON, no Content-Length
    "pages",  # a valid page that always claims more (new cursor, a billion pages)
    "pages_same",  # a valid page whose next cursor is always the same
    "echo",  # 400 whose message quotes the path and every header sent
)
DRIP_S = 0.05
HUGE_BYTES = 8 * 1024 * 1024

# Every field any connector reads, each of the wrong type (OPA's deny a number,
# Unleash's environments a list of numbers, MLflow's latest_versions a number...).
WRONG_SHAPE: dict[str, Any] = {
    "status": "success",
    "data": 5,
    "result": {"deny": 5},
    "registered_models": [{"name": "m", "latest_versions": 5, "aliases": 5, "tags": 5}],
    "features": [{"name": "f"}],
    "environments": [7],
    "name": "f",
    "events": 5,
    "meta": {"totalPages": "many"},
    "team_info": {"models": 5},
    "choices": 5,
    "usage": 5,
    "version": 5,
    "health": "GOOD",
    "next_page_token": 5,
    "total_pages": "many",
}


def _page(n: int, same: bool) -> dict[str, Any]:
    """A page every paged connector accepts, always announcing another one."""
    row = {
        "request_id": f"r{n}",
        "startTime": "2026-11-29T10:00:00Z",
        "endTime": "2026-11-29T10:00:01Z",
        "model": "m",
    }
    return {
        "registered_models": [{"name": f"m{n}"}],
        "next_page_token": "again" if same else f"tok{n}",
        "data": [row | {"name": f"p{n}", "versions": [1], "labels": []}],
        "meta": {"page": n, "totalPages": 10**9},
        "total_pages": 10**9,
        "page": n,
    }


@dataclass
class RestFaults:
    url: str
    stop: threading.Event

    def base(self, mode: str) -> str:
        return f"{self.url}/{mode}"


@contextmanager
def rest_fault_server() -> Iterator[RestFaults]:
    """Start the REST fault server on a free port; stop it (and every hanging or
    dripping answer) on exit."""
    stop = threading.Event()
    counter = iter(range(1, 10**12))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, doc: Any) -> None:
            payload = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _echo(self) -> str:
            sent = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
            return f"you sent {self.path} with {sent}"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            mode = self.path.strip("/").split("/")[0].split("?")[0]
            # The client giving up mid-answer is what the tests want.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._fault(mode)

        def _fault(self, mode: str) -> None:
            if mode == "hang":
                stop.wait(30)
            elif mode == "drip":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"data": [')
                while not stop.wait(DRIP_S):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            elif mode == "drip_headers":
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000:
                    if stop.wait(DRIP_S):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            elif mode in ("e500", "e401", "e403", "echo"):
                status = {"e500": 500, "e401": 401, "e403": 403, "echo": 400}[mode]
                text = self._echo()
                self._json(status, {"message": text, "error": text, "detail": text})
            elif mode == "garbage":
                payload = b"\x00\xff<html>not json{" * 10
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            elif mode == "shape":
                self._json(200, WRONG_SHAPE)
            elif mode == "huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b'{"a": 1}, ' * 6500  # ~64 KiB
                self.wfile.write(b'{"data": [')
                for _ in range(HUGE_BYTES // len(chunk)):
                    if stop.is_set():
                        return
                    self.wfile.write(chunk)
                self.wfile.write(b"1]}")
                self.close_connection = True
            elif mode in ("pages", "pages_same"):
                with lock:
                    n = next(counter)
                self._json(200, _page(n, same=mode == "pages_same"))
            else:
                self._json(404, {"message": f"no fault mode {mode!r}"})

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RestFaults(f"http://127.0.0.1:{server.server_address[1]}", stop)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
