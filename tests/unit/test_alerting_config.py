"""The ``alerting:`` profile section (one source or a list), silence matchers
as the CLI takes them and as Alertmanager matches them, the session handing
read-only down to the alert sources, and team alerts as console Alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.alerting.alertmanager import AlertmanagerAlerts
from connectors.errors import InvalidChange, ReadOnlyError
from connectors.records import Matcher
from console.actions.changes import parse_matchers
from console.cli import main
from console.core.config import load_config
from console.core.errors import ConfigError
from console.core.session import Session


def write(tmp_path: Path, alerting: str) -> Path:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(f"profiles:\n  p:\n    alerting:\n{alerting}")
    return cfg


def test_one_source_or_a_list(tmp_path: Path) -> None:
    one = load_config(write(tmp_path, "      {kind: alertmanager, url: 'http://a:9093'}\n"))
    assert [s.kind for s in one.profile().alerting] == ["alertmanager"]
    many = load_config(
        write(
            tmp_path,
            "      - {kind: prometheus, url: 'http://p:9090'}\n"
            "      - {kind: alertmanager, url: 'http://a:9093', token: {env: AM_TOKEN}}\n",
        )
    )
    specs = many.profile().alerting
    assert [(s.capability, s.kind, s.options["url"]) for s in specs] == [
        ("alerting", "prometheus", "http://p:9090"),
        ("alerting", "alertmanager", "http://a:9093"),
    ]
    assert "alerting" not in many.profile().connectors  # not a single-connector capability


@pytest.mark.parametrize(
    ("alerting", "where", "problem"),
    [
        (
            "      - {kind: prometheus, url: 'http://p'}\n      - {kind: alertmanagr, url: x}\n",
            ":5: profiles.p.alerting.1.kind:",
            "unknown connector kind 'alertmanagr' (known: alertmanager, prometheus)",
        ),
        (
            "      - {kind: alertmanager, url: 'http://a', token: abc}\n",
            ":4: profiles.p.alerting.0.token:",
            "secrets are never stored in the file",
        ),
        ("      []\n", ":3: profiles.p.alerting:", "expected a connector"),
        ("      - {kind: alertmanager}\n", ":4: profiles.p.alerting.0.url:", "required"),
    ],
)
def test_a_bad_source_names_file_line_and_key(
    tmp_path: Path, alerting: str, where: str, problem: str
) -> None:
    cfg = write(tmp_path, alerting)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert str(err.value).startswith(f"{cfg}{where}"), str(err.value)
    assert problem in str(err.value)


def test_session_hands_read_only_to_the_source(tmp_path: Path) -> None:
    cfg = write(tmp_path, "      {kind: alertmanager, url: 'http://127.0.0.1:9'}\n")
    session = Session(load_config(cfg).profile(), read_only=True)
    source = session.alert_source(0)
    assert isinstance(source, AlertmanagerAlerts) and source.read_only
    assert session.alert_source(0) is source  # built once
    with pytest.raises(ReadOnlyError):
        source.check_writable()
    session.close()


@pytest.mark.parametrize(
    ("text", "matcher"),
    [
        ("route=/support/chat", Matcher("route", "/support/chat")),
        ('route = "/support/chat"', Matcher("route", "/support/chat")),
        ("severity!=ticket", Matcher("severity", "ticket", is_equal=False)),
        ('severity=~"page|critical"', Matcher("severity", "page|critical", is_regex=True)),
        ("team!~ml.*", Matcher("team", "ml.*", is_regex=True, is_equal=False)),
        ('summary="say \\"hi\\""', Matcher("summary", 'say "hi"')),
    ],
)
def test_parse_matchers(text: str, matcher: Matcher) -> None:
    assert parse_matchers([text]) == (matcher,)
    # and back: what the plan and the audit show is the PromQL form
    assert parse_matchers([str(matcher)]) == (matcher,)


@pytest.mark.parametrize("text", ["route", "=x", "1route=x", 'a=~"("'])
def test_bad_matcher_is_one_clear_error(text: str) -> None:
    with pytest.raises(InvalidChange, match="matcher"):
        parse_matchers([text])


def test_matching_follows_alertmanager() -> None:
    labels = {"route": "/support/chat", "severity": "page"}
    assert Matcher("route", "/support/chat").matches(labels)
    assert not Matcher("route", "/support").matches(labels)
    assert not Matcher("route", "/support", is_regex=True).matches(labels)  # anchored
    assert Matcher("route", "/support.*", is_regex=True).matches(labels)
    assert Matcher("team", "").matches(labels)  # a missing label is ""
    assert Matcher("severity", "ticket", is_equal=False).matches(labels)


def test_silence_cli_refuses_a_profile_without_alertmanager(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        f"profiles:\n  p:\n    workspace: {tmp_path / 'ws'}\n"
        "    alerting: {kind: prometheus, url: 'http://127.0.0.1:9'}\n"
    )
    args = ["--config", str(cfg), "silence", "--matcher", "route=/x", "--reason", "r"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no alert source that can silence" in err and err.count("\n") == 1
    row = (
        Session(load_config(cfg).profile())
        .store()
        .execute("SELECT action, outcome FROM audit")
        .fetchall()
    )
    assert [tuple(r) for r in row] == [("create_silence", "refused")]


def test_team_alerts_map_onto_the_console_record() -> None:
    from datetime import UTC, datetime, timedelta

    from connectors.records import ExternalAlert, Silence
    from console.alerts.external import to_alert

    since = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
    ends = since + timedelta(hours=2)
    silence = Silence("s1", (Matcher("route", "/x"),), since, ends, "me", "why", "active")

    def ext(severity: str, state: str = "firing", silenced: tuple[str, ...] = ()) -> ExternalAlert:
        labels = {"alertname": "HighRefusals", "route": "/x", "severity": severity}
        return ExternalAlert(
            "HighRefusals", labels, state, since, "alertmanager", "refusals up", {},
            silenced_by=silenced,
        )  # fmt: skip

    page = to_alert(ext("critical"), {})
    assert (page.kind, page.severity, page.state, page.source) == (
        "external", "page", "firing", "alertmanager",
    )  # fmt: skip
    assert page.key == "alertmanager:HighRefusals{route=/x,severity=critical}"
    assert page.title == "refusals up" and page.onset == since and page.route == "/x"
    assert to_alert(ext("page"), {}).severity == "page"
    assert to_alert(ext("warning"), {}).severity == "ticket"
    assert to_alert(ext(""), {}).severity == "ticket"
    assert to_alert(ext("ticket", "pending"), {}).state == "pending"
    muted = to_alert(ext("critical", "suppressed", ("s1",)), {"s1": silence})
    assert muted.state == "firing" and muted.silenced_until == ends
    assert muted.silenced(since) and not page.silenced(since)
