"""Configuration: discovery order, validation, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.config import SecretRef, candidates, find, load_config
from console.core.errors import ConfigError

GOOD = """\
default_profile: dev
profiles:
  dev:
    workspace: ./ws
    metrics: {kind: workspace}
    request_log: {kind: workspace}
    flags: {kind: flagd, path: flags.json}
  prod:
    environment: production
    metrics:
      kind: prometheus
      url: https://prom.example
      token: {keyring: prom-token}
    replay_targets:
      staging: {kind: openai, url: "http://127.0.0.1:1/v1", api_key: {env: STAGING_KEY}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "llmdeck.yaml"
    path.write_text(text)
    return path


def test_good_config_resolves_paths_and_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    dev = config.profile()
    assert dev.name == "dev"
    assert dev.environment == "development" and not dev.read_only
    assert dev.workspace == (tmp_path / "ws").resolve()
    assert dev.connectors["metrics"].options["path"] == dev.workspace / "store.db"
    assert dev.connectors["flags"].options["path"] == (tmp_path / "flags.json").resolve()
    prod = config.profile("prod")
    assert prod.is_production and prod.read_only  # production is read-only by default
    token = prod.connectors["metrics"].options["token"]
    assert isinstance(token, SecretRef) and token.source == "keyring"
    assert "prom-token" in repr(token)
    assert prod.replay_targets["staging"].options["api_key"] == SecretRef(
        "env", "STAGING_KEY", prod.replay_targets["staging"].options["api_key"].where
    )


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (
            "profiles:\n  a:\n    metrics: {kind: promethus, url: x}\n",
            3,
            "profiles.a.metrics.kind",
            "unknown connector kind 'promethus'",
        ),
        ("profiles:\n  a:\n    environment: prod\n", 3, "profiles.a.environment", "one of"),
        (
            "profiles:\n  a:\n    metrics:\n      kind: prometheus\n      token: abc123\n",
            5,
            "profiles.a.metrics.token",
            "never stored in the file",
        ),
        ("profiles:\n  a:\n    colour: red\n", 3, "profiles.a.colour", "unknown key"),
        ("profiles:\n  a:\n    read_only: maybe\n", 3, "profiles.a.read_only", "true or false"),
        (
            "profiles:\n  a:\n    metrics: {kind: workspace}\n",
            3,
            "profiles.a.metrics",
            "needs the profile's 'workspace'",
        ),
        ("profiles:\n  a: {}\ndefault_profile: b\n", 3, "default_profile", "names no profile"),
    ],
)
def test_bad_values_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: {key}: "), message
    assert words in message
    assert "abc123" not in message  # a secret written in the file is never echoed


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "profiles:\n  a:\n    metrics: {kind: workspace\n  b: [\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:")
    assert "invalid YAML" in str(err.value)


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LLMDECK_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="no config found"):
        find()
    user = tmp_path / "xdg" / "llmdeck" / "llmdeck.yaml"
    user.parent.mkdir(parents=True)
    user.write_text(GOOD)
    assert find() == user
    (tmp_path / "llmdeck.yaml").write_text(GOOD)
    assert find() == Path("llmdeck.yaml")
    monkeypatch.setenv("LLMDECK_CONFIG", str(user))
    assert find() == user
    assert candidates("explicit.yaml") == [Path("explicit.yaml")]
    with pytest.raises(ConfigError, match=r"explicit\.yaml: config file not found"):
        find("explicit.yaml")


@pytest.mark.parametrize(
    ("section", "line", "key", "words"),
    [
        (
            "    slos:\n      /chat: {refusal_rate: 0.05, p99_vibes: 3}\n",
            4,
            "profiles.a.slos./chat.p99_vibes",
            "unknown objective",
        ),
        (
            "    prices:\n      gpt: {input_per_1k: cheap}\n",
            4,
            "profiles.a.prices.gpt.input_per_1k",
            "a number",
        ),
        ("    budgets:\n      t-1: lots\n", 4, "profiles.a.budgets.t-1", "a number"),
        ("    drift:\n      psi_alert: high\n", 4, "profiles.a.drift.psi_alert", "a number"),
        ("    replay:\n      per_call: 1\n", 4, "profiles.a.replay.per_call", "unknown key"),
    ],
)
def test_bad_settings_are_found_at_load(
    tmp_path: Path, section: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, "profiles:\n  a:\n" + section)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:{line}: {key}: "), str(err.value)
    assert words in str(err.value)
