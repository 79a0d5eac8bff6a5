"""Real backend servers for tests: where they are and whether they answer.

The servers are installed and started by ``scripts/backends.sh`` (see
docs/backends.md), which also writes their addresses to ``.backends/env``. Values
come from the environment first, then from ``.backends/env``, then from the
default ports, so tests work with or without sourcing that file.

A backend that does not answer skips the test, naming the command that starts
it; with ``LLMDECK_REQUIRE_BACKENDS=1`` (set by ``.ci/run``) it fails instead.

Use the fixtures by importing them into a test module (or conftest)::

    from backends import mlflow_url, unleash  # noqa: F401  (pytest fixtures)

    def test_flags(unleash: tuple[str, str]) -> None:
        url, token = unleash
"""

from __future__ import annotations

import os
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
from functools import cache
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / ".backends" / "env"
TIMEOUT_S = 2.0

# name -> (URL variable, default URL, path that answers 2xx when ready, start target)
_BACKENDS: dict[str, tuple[str, str, str, str]] = {
    "prometheus": ("LLMDECK_PROMETHEUS_URL", "http://127.0.0.1:19090", "/-/ready", "prometheus"),
    "pushgateway": ("LLMDECK_PUSHGATEWAY_URL", "http://127.0.0.1:19091", "/-/ready", "prometheus"),
    "alertmanager": (
        "LLMDECK_ALERTMANAGER_URL",
        "http://127.0.0.1:19093",
        "/-/ready",
        "alertmanager",
    ),
    "mlflow": ("LLMDECK_MLFLOW_URL", "http://127.0.0.1:15000", "/health", "mlflow"),
    "unleash": ("LLMDECK_UNLEASH_URL", "http://127.0.0.1:14242", "/health", "unleash"),
    "llama": ("LLMDECK_LLAMA_URL", "http://127.0.0.1:18080/v1", "/models", "llama"),
}
DEFAULT_UNLEASH_TOKEN = "*:*.unleash-insecure-admin-api-token"
DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:15432/llmdeck"
# local servers: never route the probe through an HTTP(S)_PROXY from the environment
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@cache
def _env_file() -> dict[str, str]:
    """KEY=value pairs from ``.backends/env`` ({} when it does not exist)."""
    values: dict[str, str] = {}
    if ENV_FILE.is_file():
        for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def setting(key: str, default: str = "") -> str:
    """A backend setting: environment, else ``.backends/env``, else ``default``."""
    return os.environ.get(key) or _env_file().get(key) or default


def backends_required() -> bool:
    """True when a missing backend must fail the test (CI), not skip it."""
    return os.environ.get("LLMDECK_REQUIRE_BACKENDS", "") == "1"


def _missing(what: str, command: str) -> NoReturn:
    message = f"{what}; run `{command}`"
    if backends_required():
        pytest.fail(f"{message} (LLMDECK_REQUIRE_BACKENDS=1)", pytrace=False)
    pytest.skip(message)


def _answers(url: str) -> str | None:
    """None when GET ``url`` returns 2xx within the timeout, else the reason."""
    try:
        with _OPENER.open(url, timeout=TIMEOUT_S) as response:
            response.read(4096)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(exc)
    return None


def require_backend(name: str) -> str:
    """Return the base URL of backend ``name`` after checking that it answers.

    ``name`` is one of prometheus, pushgateway, alertmanager, mlflow, unleash, llama. The
    llama URL ends in ``/v1`` (an OpenAI-compatible base URL). Skips the
    calling test when the backend is down, or fails it when
    ``LLMDECK_REQUIRE_BACKENDS=1``. Raises KeyError for an unknown name.
    """
    env_key, default, probe, target = _BACKENDS[name]
    url = setting(env_key, default).rstrip("/")
    reason = _answers(url + probe)
    if reason is not None:
        _missing(
            f"{name} backend not answering at {url}{probe} ({reason})",
            f"bash scripts/backends.sh start {target}",
        )
    return url


def unleash_token() -> str:
    """Unleash admin API token (sent as the ``Authorization`` header)."""
    return setting("LLMDECK_UNLEASH_TOKEN", DEFAULT_UNLEASH_TOKEN)


def pg_dsn() -> str:
    """DSN of the PostgreSQL that backs Unleash (database ``llmdeck``), checked to accept TCP."""
    dsn = setting("LLMDECK_PG_DSN", DEFAULT_PG_DSN)
    parts = urllib.parse.urlsplit(dsn)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 5432), timeout=TIMEOUT_S
        ):
            pass
    except OSError as exc:
        _missing(
            f"postgres not answering at {dsn} ({exc})", "bash scripts/backends.sh start unleash"
        )
    return dsn


def _venv_python(env_key: str, venv: str) -> str:
    path = setting(env_key, str(ROOT / ".backends" / venv / "bin" / "python"))
    if not Path(path).is_file():
        _missing(
            f"{venv} venv python not found at {path}", f"bash scripts/backends.sh install {venv}"
        )
    return path


def mlflow_python() -> str:
    """Python of the MLflow venv: seed data with the official client in a subprocess."""
    return _venv_python("LLMDECK_MLFLOW_PYTHON", "mlflow")


def llama_python() -> str:
    """Python of the llama.cpp venv (llama_cpp, the SmolLM2 GGUF)."""
    return _venv_python("LLMDECK_LLAMA_PYTHON", "llama")


def promtool() -> str:
    """Path of ``promtool`` (backfills TSDB blocks for ``PROM_DATA_DIR``)."""
    path = setting("PROMTOOL") or shutil.which("promtool") or ""
    if not path or not Path(path).is_file():
        _missing("promtool not found", "bash scripts/backends.sh install prometheus")
    return path


@pytest.fixture(scope="session")
def prometheus_url() -> str:
    """Base URL of the Prometheus HTTP API (scrapes the pushgateway every 5 s)."""
    return require_backend("prometheus")


@pytest.fixture(scope="session")
def pushgateway_url() -> str:
    """Base URL of the Prometheus Pushgateway."""
    return require_backend("pushgateway")


@pytest.fixture(scope="session")
def mlflow_url() -> str:
    """Base URL of the MLflow tracking/registry server."""
    return require_backend("mlflow")


@pytest.fixture(scope="session")
def unleash() -> tuple[str, str]:
    """(base URL, admin API token) of the Unleash server."""
    return require_backend("unleash"), unleash_token()


@pytest.fixture(scope="session")
def llama_url() -> str:
    """OpenAI-compatible base URL (ending in /v1) of the llama.cpp server."""
    return require_backend("llama")
