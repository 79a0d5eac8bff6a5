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
