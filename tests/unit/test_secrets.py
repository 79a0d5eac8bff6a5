"""Secrets come from the keyring or the environment, never from files or messages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from console.core import secrets
from console.core.config import SecretRef
from console.core.errors import SecretsError

REF = SecretRef("keyring", "prom-token", "llmdeck.yaml:7: profiles.prod.metrics.token")


def test_store_and_resolve(memory_keyring: dict[tuple[str, str], str]) -> None:
    secrets.store("prom-token", "s3cr3t-value")
    assert memory_keyring[("llmdeck", "prom-token")] == "s3cr3t-value"
    assert secrets.resolve(REF) == "s3cr3t-value"
    opts = secrets.resolve_options({"url": "x", "token": REF})
    assert opts == {"url": "x", "token": "s3cr3t-value"}
    secrets.delete("prom-token")
    with pytest.raises(SecretsError, match="llmdeck secrets set prom-token"):
        secrets.resolve(REF)


def test_missing_secret_names_where_it_is_used(memory_keyring: dict) -> None:
    with pytest.raises(SecretsError) as err:
        secrets.resolve(REF)
    assert "llmdeck.yaml:7: profiles.prod.metrics.token" in str(err.value)


def test_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = SecretRef("env", "LLMDECK_TEST_KEY", "f:1: k")
    monkeypatch.delenv("LLMDECK_TEST_KEY", raising=False)
    with pytest.raises(SecretsError, match="LLMDECK_TEST_KEY is not set"):
        secrets.resolve(ref)
    monkeypatch.setenv("LLMDECK_TEST_KEY", "abc")
    assert secrets.resolve(ref) == "abc"


def test_no_usable_keyring_is_a_clear_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # keyring's `fail` backend is what a headless machine gets: the CLI must say
    # what to install or set, in one line, with exit code 2 and no traceback.
    env = {
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "console", "secrets", "set", "prom-token"],
        input="hunter2-secret\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no usable keyring backend" in proc.stderr
    assert "keyrings.alt" in proc.stderr and "Traceback" not in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout
