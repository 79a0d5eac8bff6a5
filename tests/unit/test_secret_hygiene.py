"""Secrets stay out of messages, and safety switches take real booleans."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.metrics.prometheus import PrometheusMetrics
from connectors.registry.mlflow import MlflowRegistry
from connectors.replay.openai import OpenAICompatTarget
from console.actions.breakglass import leave_read_only
from console.core.config import load_config
from console.core.errors import ConfigError
from console.core.session import Session
from tests.conftest import demo_profile


def test_a_malformed_token_never_reaches_the_message() -> None:
    # httpx quotes an illegal header value in its exception text; a token pasted
    # with a trailing \r would otherwise be shown by doctor and the panels.
    prom = PrometheusMetrics(url="http://127.0.0.1:9", token="SECRETTOKEN123\r", retries=0)
    status = prom.ping()
    assert not status.ok
    assert "SECRETTOKEN" not in status.detail


def test_credentials_in_urls_are_redacted() -> None:
    target = OpenAICompatTarget(url="http://admin:S3CRETPW@127.0.0.1:9/v1")
    assert "S3CRETPW" not in repr(target)
    assert "S3CRETPW" not in target.ping().detail
    registry = MlflowRegistry(url="http://admin:S3CRETPW@127.0.0.1:9")
    assert "S3CRETPW" not in registry.ping().detail
    prom = PrometheusMetrics(url="http://admin:S3CRETPW@127.0.0.1:9", retries=0)
    assert "S3CRETPW" not in prom.ping().detail


def test_production_flags_take_real_booleans(tmp_path: Path) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        'profiles:\n  p:\n    environment: production\n    allow_production_replay: "false"\n'
    )
    with pytest.raises(ConfigError, match=r":4: profiles\.p\.allow_production_replay: must be"):
        load_config(cfg)
    with pytest.raises(TypeError, match="production must be true or false"):
        OpenAICompatTarget(url="http://127.0.0.1:9/v1", production="false")


def test_command_line_read_only_cannot_be_broken(demo_copy: Path) -> None:
    session = Session(demo_profile(demo_copy, "demo-production"), read_only=True)
    outcome = leave_read_only(session, "incident 42")
    assert outcome.status == "refused" and "--read-only" in outcome.message
    assert session.read_only
    row = (
        session.store()
        .execute("SELECT outcome, action FROM audit ORDER BY id DESC LIMIT 1")
        .fetchone()
    )
    assert row == ("refused", "break_glass")
