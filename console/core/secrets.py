"""Secrets: resolved from the OS keyring or the environment, never from files.

``keyring`` is imported only when a profile actually names a keyring secret.
On a headless machine keyring falls back to its ``fail`` backend; that is
reported as a message saying what to install or set, not as a traceback.
Error messages name the secret and where the profile asks for it, never its
value.
"""

from __future__ import annotations

import os
from typing import Any

from connectors.support.redact import remember
from console.core.config import SecretRef
from console.core.errors import SecretsError

SERVICE = "llmdeck"
NO_KEYRING = (
    "no usable keyring backend on this machine; install one (for example "
    "`pip install keyrings.alt`), set PYTHON_KEYRING_BACKEND, or use {env: VAR} in the profile"
)


def _keyring() -> Any:
    import keyring
    from keyring.backends import fail

    if isinstance(keyring.get_keyring(), fail.Keyring):
        raise SecretsError(NO_KEYRING)
    return keyring


def resolve(ref: SecretRef) -> str:
    """The secret's value, remembered by the scrubber so that no message or stored
    text can show it. Raises SecretsError naming the secret and the profile key."""
    value = _resolve(ref)
    remember(value)
    return value


def _resolve(ref: SecretRef) -> str:
    if ref.source == "env":
        value = os.environ.get(ref.name, "").strip()
        if not value:
            raise SecretsError(f"{ref.where}: environment variable {ref.name} is not set")
        return value
    if ref.source != "keyring":
        raise SecretsError(f"{ref.where}: unknown secret source {ref.source!r}")
    kr = _keyring()
    try:
        value = kr.get_password(SERVICE, ref.name)
    except Exception as exc:  # keyring backends raise their own types
        raise SecretsError(
            f"{ref.where}: keyring failed reading {ref.name!r}: {type(exc).__name__}"
        ) from None
    if value is None:
        raise SecretsError(
            f"{ref.where}: secret {ref.name!r} is not in the keyring; "
            f"run `llmdeck secrets set {ref.name}`"
        )
    return str(value).strip()


def resolve_options(options: dict[str, Any]) -> dict[str, Any]:
    """Connector options with every SecretRef replaced by its value."""
    return {k: resolve(v) if isinstance(v, SecretRef) else v for k, v in options.items()}


def store(name: str, value: str) -> None:
    """Store a secret in the OS keyring under ``name``. Raises SecretsError."""
    value = value.strip()  # a stray \r from a pasted token would break headers
    if not value:
        raise SecretsError("refusing to store an empty secret")
    kr = _keyring()
    try:
        kr.set_password(SERVICE, name, value)
    except Exception as exc:
        raise SecretsError(f"keyring failed storing {name!r}: {type(exc).__name__}") from None


def delete(name: str) -> None:
    """Remove a secret from the keyring. Raises SecretsError when it is not there."""
    kr = _keyring()
    try:
        kr.delete_password(SERVICE, name)
    except Exception as exc:
        raise SecretsError(f"cannot delete {name!r}: {type(exc).__name__}") from None
