"""Declared connector options: the loader, the session, doctor and the README agree."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from connectors import discovery, options
from console import cli
from console.commands.doctor import options_markdown
from console.core.config import ConnectorSpec, load_config
from console.core.errors import ConfigError
from console.core.session import Session

ROOT = Path(__file__).resolve().parents[2]
# Constructor keywords a profile never sets: the session sets read_only (so
# --read-only reaches the connector) and tests pass a fault transport.
INJECTED = {"read_only", "transport"}


def write(tmp_path: Path, connector: str) -> Path:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(f"profiles:\n  p:\n    workspace: ws\n    {connector}\n")
    return cfg


@pytest.mark.parametrize("name", sorted(discovery.BUILTIN))
def test_every_builtin_declares_exactly_its_constructor_keywords(name: str) -> None:
    cap, _, kind = name.partition(".")
    cls = discovery.load(cap, kind)
    declared = options.declared(cls)
    assert declared is not None, f"{name} declares no OPTIONS"
    params = inspect.signature(cls.__init__).parameters
    keywords = {p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
    assert {o.name for o in declared} == keywords - INJECTED
    assert not any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values())
    for o in declared:
        assert o.doc and "\n" not in o.doc, f"{name}.{o.name} needs a one-line doc"


@pytest.mark.parametrize(
    ("connector", "key", "problem"),
    [
        ("metrics: {kind: prometheus, url: x, timeout: abc}", "timeout", "expected a number"),
        ("metrics: {kind: prometheus, url: 5}", "url", "expected a string"),
        ("metrics: {kind: prometheus, url: x, retries: true}", "retries", "expected an integer"),
        ("metrics: {kind: prometheus, url: x, timeout: .nan}", "timeout", "expected a number"),
        ("metrics: {kind: prometheus, url: x, tiemout: 3}", "tiemout", "unknown option"),
        ("metrics: {kind: prometheus}", "metrics", "url: required option missing"),
        ("metrics: {kind: prometheus, url: x, token: abc}", "token", "never stored in the file"),
        ("metrics: {kind: prometheus, url: {env: U}}", "url", "is not a secret"),
        ('metrics: {kind: prometheus, url: "a\\0b"}', "url", "NUL"),
        ("flags: {kind: flagd, path: flags.json, read_only: false}", "read_only", "unknown"),
        ('flags: {kind: flagd, path: "a\\0b"}', "path", "expected a path"),
        ("flags: {kind: flagd, path: [1]}", "path", "expected a path"),
        ("policy: {kind: rego, path: p.rego, query: [1]}", "query", "expected a string"),
    ],
)
def test_bad_option_is_a_config_error_with_file_line_and_key(
    tmp_path: Path, connector: str, key: str, problem: str
) -> None:
    cfg = write(tmp_path, connector)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    message = str(err.value)
    assert message.startswith(f"{cfg}:4: profiles.p."), message
    assert f".{key}" in message and problem in message, message


def test_secrets_and_defaults_pass(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "metrics: {kind: prometheus, url: 'http://h', token: {env: T}, timeout: 3, verify: false}",
    )
    spec = load_config(cfg).profile().connectors["metrics"]
    assert spec.options["timeout"] == 3 and spec.key_where["timeout"].endswith(
        ":4: profiles.p.metrics.timeout"
    )


def test_session_checks_a_spec_built_in_code_before_reading_secrets(tmp_path: Path) -> None:
    cfg = write(tmp_path, "metrics: {kind: workspace}")
    session = Session(load_config(cfg).profile())
    bad = ConnectorSpec(
        "metrics", "prometheus", {"url": 7}, "f.yaml:3: m", {"url": "f.yaml:4: m.url"}
    )
    with pytest.raises(ConfigError, match=r"^f\.yaml:4: m\.url: expected a string"):
        session.build(bad)


def test_read_only_reaches_the_connector_whatever_the_profile(tmp_path: Path) -> None:
    cfg = write(tmp_path, "flags: {kind: flagd, path: flags.json}")
    session = Session(load_config(cfg).profile(), read_only=True)
    flags = session.flags()
    assert flags is not None and flags.read_only is True


def test_readme_table_is_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- connector-options:start[^\n]*-->\n(.*?)<!-- connector-options:end", readme, re.S
    )
    assert block, "README lost its connector options block"
    assert block.group(1) == options_markdown(), (
        "README connector table differs from the declarations; regenerate it with "
        "`llmdeck doctor --options --markdown`"
    )


def test_doctor_lists_options_without_a_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no llmdeck.yaml here: --options needs none
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert cli.main(["doctor", "--options"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"metrics\.prometheus\s+timeout\s+number\s+10\.0\s+seconds per request", out)
    assert re.search(r"flags\.unleash\s+token\s+secret\s+required", out)
