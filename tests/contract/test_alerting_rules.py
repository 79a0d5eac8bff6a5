"""``llmdeck slo rules``: the generated rule files pass Prometheus' own
``promtool check rules`` in all three naming schemes, say what they skip, and
a malformed ``alerts:`` override is refused naming file, line and key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from console.alerts import prom_rules
from console.cli import main
from console.core.config import load_config
from console.core.errors import ConfigError
from tests.backends import promtool

SLOS = """\
    slos:
      /support/chat: {refusal_rate: 0.05, error_rate: 0.01, block_rate: 0.02,
                      p95_latency_ms: 6500, eval_pass_ratio: 0.9, period: 24h}
      /billing: {refusal_rate: 0.02, error_rate: 0.01}
      prompt support-answer: {refusal_rate: 0.05}
"""


def config(tmp_path: Path, scheme: str, extra: str = "") -> Path:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(
        "profiles:\n  p:\n"
        f"    metrics: {{kind: prometheus, url: 'http://127.0.0.1:9', scheme: {scheme}}}\n"
        + SLOS
        + extra
    )
    return cfg


def check_rules(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("scheme", ["playbook", "otel-genai", "litellm"])
def test_generated_rules_pass_promtool(
    tmp_path: Path, scheme: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rules.yml"
    assert main(["--config", str(config(tmp_path, scheme)), "slo", "rules", "-o", str(out)]) == 0
    checked = check_rules(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    doc = yaml.safe_load(out.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout
    alerts = [r for r in rules if r.get("alert") == prom_rules.ALERT_NAME]
    # Every alert names its scope, objective and severity; every severity is there.
    assert alerts and all({"objective", "severity"} <= set(a["labels"]) for a in alerts)
    assert all({"route", "prompt"} & set(a["labels"]) for a in alerts)
    assert {a["labels"]["severity"] for a in alerts} == {"page", "ticket"}
    assert all(a["for"] == "2m" and a["keep_firing_for"] == "2m" for a in alerts)  # the engine's
    err = capsys.readouterr().err
    prompt_alerts = [a for a in alerts if a["labels"].get("prompt") == "support-answer"]
    if scheme == "litellm":
        # LiteLLM's series carry no prompt version: skipped, said twice.
        assert not prompt_alerts
        assert "skipped slos.prompt support-answer.refusal_rate" in err
        assert "# skipped: slos.prompt support-answer.refusal_rate" in out.read_text()
    records = {r["record"] for r in rules if "record" in r}
    if scheme == "playbook":
        assert "llmdeck:slo_refusal_rate:ratio_rate5m" in records
        assert "llmdeck:slo_eval_pass_ratio:ratio_rate6h" in records
    else:
        # No refusal counter in OTel's or LiteLLM's names: no rule, a comment and a line.
        assert not any("refusal_rate" in r for r in records)
        assert "skipped slos./support/chat.refusal_rate: scheme" in err
        assert "# skipped: slos./support/chat.refusal_rate" in out.read_text()
        assert "llmdeck:slo_error_rate:ratio_rate5m" in records
    assert "llmdeck:slo_p95_latency_ms:ratio_rate1h" in records


def test_page_alert_is_both_windows_of_each_pair(tmp_path: Path) -> None:
    profile = load_config(config(tmp_path, "playbook")).profile()
    ruleset = prom_rules.for_profile(profile)
    group = next(g for g in ruleset.groups if g["name"] == "llmdeck-slo /support/chat refusal_rate")
    page = next(r for r in group["rules"] if r.get("labels", {}).get("severity") == "page")
    expr = " ".join(page["expr"].split())
    sel = '{route="/support/chat", objective="refusal_rate"}'
    assert (
        f"( llmdeck:slo_refusal_rate:ratio_rate1h{sel} > (14.4 * 0.05) and "
        f"llmdeck:slo_refusal_rate:ratio_rate5m{sel} > (14.4 * 0.05) ) or "
        f"( llmdeck:slo_refusal_rate:ratio_rate6h{sel} > (6 * 0.05) and "
        f"llmdeck:slo_refusal_rate:ratio_rate30m{sel} > (6 * 0.05) )"
    ) == expr
    # Recordings come before the alert in its group: evaluated in order, so
    # the alert reads this evaluation's ratios.
    kinds = ["alert" if "alert" in r else "record" for r in group["rules"]]
    assert kinds == sorted(kinds, key=lambda k: k == "alert")


def test_alerts_override_changes_the_windows(tmp_path: Path) -> None:
    extra = "    alerts:\n      page: [[2h, 10m, 10]]\n      ticket: []\n"
    profile = load_config(config(tmp_path, "playbook", extra)).profile()
    ruleset = prom_rules.for_profile(profile)
    alerts = [
        r for g in ruleset.groups for r in g["rules"] if r.get("alert") == prom_rules.ALERT_NAME
    ]
    assert {a["labels"]["severity"] for a in alerts} == {"page"}  # ticket: [] turns it off
    assert all("ratio_rate2h" in a["expr"] and "(10 * " in a["expr"] for a in alerts)
    checked_file = tmp_path / "r.yml"
    checked_file.write_text(ruleset.text)
    assert check_rules(checked_file).returncode == 0


def test_a_window_that_could_never_fire_is_skipped_and_said(tmp_path: Path) -> None:
    extra = "    alerts:\n      page: [[1h, 5m, 60]]\n"
    profile = load_config(config(tmp_path, "playbook", extra)).profile()
    ruleset = prom_rules.for_profile(profile)
    # error_rate 0.01 x 60 = 60% can fire; refusal_rate 0.05 x 60 = 300% cannot.
    assert any(
        s.startswith("slos./support/chat.refusal_rate: page 1h/5m>60x needs")
        for s in ruleset.skipped
    )
    chat_refusal = next(
        g for g in ruleset.groups if g["name"] == "llmdeck-slo /support/chat refusal_rate"
    )
    severities = {
        r["labels"]["severity"]
        for r in chat_refusal["rules"]
        if r.get("alert") == prom_rules.ALERT_NAME
    }
    assert severities == {"ticket"}


@pytest.mark.parametrize(
    ("override", "line", "key", "problem"),
    [
        ("    alerts:\n      page: [[1h, 5m]]\n", 10, "alerts.page", "page[0]: expected [long"),
        ("    alerts:\n      page:\n        - [1h, 5x, 14.4]\n", 10, "alerts.page", "'5x'"),
        ("    alerts:\n      page: [[5m, 1h, 14.4]]\n", 10, "alerts.page", "short window"),
        ("    alerts:\n      page: [[1h, 5m, -2]]\n", 10, "alerts.page", "burn factor"),
        ("    alerts:\n      pager: []\n", 10, "alerts.pager", "unknown key"),
        ("    alerts: [1h]\n", 9, "alerts", "must be a mapping"),
    ],
)
def test_malformed_override_names_file_line_and_key(
    tmp_path: Path, override: str, line: int, key: str, problem: str
) -> None:
    cfg = config(tmp_path, "playbook", override)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    message = str(err.value)
    assert message.startswith(f"{cfg}:{line}: profiles.p.{key}: "), message
    assert problem in message
    # The command says the same in one line, exit code 2, and writes nothing.
    out = tmp_path / "rules.yml"
    assert main(["--config", str(cfg), "slo", "rules", "-o", str(out)]) == 2
    assert not out.exists()


SEMANTICS = """\
profiles:
  p:
    metrics: {kind: prometheus, url: 'http://127.0.0.1:9'}
    slos:
      /support/chat: {refusal_rate: 0.05, p95_latency_ms: 6500}
      /billing: {refusal_rate: 0.05}
      /search: {refusal_rate: 0.05}
      prompt support-answer: {refusal_rate: 0.05}
    alerts: {for: 1m}
"""
CHAT = {"route": "/support/chat"}
BURN = {"alertname": prom_rules.ALERT_NAME, "alertstate": "firing"}


def _series(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def _close_to(expr: str, value: float, labels: dict[str, str]) -> dict[str, object]:
    """A promql_expr_test that ``expr`` is ``value``: promtool compares floats exactly."""
    return {
        "expr": f"abs({expr} - {value}) < bool 1e-9",
        "eval_time": "7h",
        "exp_samples": [{"labels": _series("", labels), "value": 1}],
    }


# Seven hours at one sample a minute. /support/chat: 80% refused (16x the
# budget: both page pairs), 60% slower than 6500 ms (12x: only the 6x pair);
# /billing refuses 1% (0.2x); /search has no series at all. The Python
# client's bucket spelling (6500.0) must match the rules' 6500.
_V14 = {**CHAT, "prompt_version": "support-answer@14"}
UNIT_TEST = {
    "rule_files": ["rules.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                {"series": _series("llm_requests_total", {**_V14, "status": "ok"}),
                 "values": "0+10x420"},
                {"series": _series("refusal_count", _V14), "values": "0+8x420"},
                {"series": _series("generation_latency_ms_bucket", {**CHAT, "le": "6500.0"}),
                 "values": "0+4x420"},
                {"series": _series("generation_latency_ms_bucket", {**CHAT, "le": "+Inf"}),
                 "values": "0+10x420"},
                {"series": _series("llm_requests_total", {"route": "/billing", "status": "ok"}),
                 "values": "0+10x420"},
                {"series": _series("refusal_count", {"route": "/billing"}),
                 "values": "0+0.1x420"},
            ],
            "promql_expr_test": [
                _close_to(
                    'llmdeck:slo_refusal_rate:ratio_rate5m{route="/support/chat"}',
                    0.8,
                    {**CHAT, "objective": "refusal_rate"},
                ),
                _close_to(
                    "llmdeck:slo_p95_latency_ms:ratio_rate1h",
                    0.6,
                    {**CHAT, "objective": "p95_latency_ms"},
                ),
                # /billing over its 24h period: 1% of a 5% budget spent, 80% left.
                _close_to(
                    'llmdeck:slo_period_error_budget_remaining:ratio{route="/billing"}',
                    0.8,
                    {"route": "/billing", "objective": "refusal_rate"},
                ),
                {
                    "expr": f'ALERTS{{alertname="{prom_rules.ALERT_NAME}",severity="page"}}',
                    "eval_time": "7h",
                    "exp_samples": [
                        {"labels": _series("ALERTS", {**BURN, **CHAT, **extra}), "value": 1}
                        for extra in (
                            {"objective": "refusal_rate", "severity": "page"},
                            {"objective": "p95_latency_ms", "severity": "page"},
                        )
                    ]
                    + [
                        {
                            "labels": _series(
                                "ALERTS",
                                {**BURN, "prompt": "support-answer",
                                 "prompt_version": "support-answer@14",
                                 "objective": "refusal_rate", "severity": "page"},
                            ),
                            "value": 1,
                        }
                    ],
                },
                {
                    "expr": f'ALERTS{{alertname="{prom_rules.NO_DATA_ALERT}"}}',
                    "eval_time": "7h",
                    "exp_samples": [
                        {
                            "labels": _series(
                                "ALERTS",
                                {"alertname": prom_rules.NO_DATA_ALERT, "alertstate": "firing",
                                 "route": "/search", "objective": "refusal_rate",
                                 "severity": "ticket"},
                            ),
                            "value": 1,
                        }
                    ],
                },
            ],
        }
    ],
}  # fmt: skip


def test_rules_evaluate_as_the_engine_judges(tmp_path: Path) -> None:
    """``promtool test rules``: the rules computed over known series give the
    bad shares and the alerts the objectives mean (and nothing for /billing)."""
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(SEMANTICS)
    ruleset = prom_rules.for_profile(load_config(cfg).profile())
    assert ruleset.skipped == []
    (tmp_path / "rules.yml").write_text(ruleset.text)
    (tmp_path / "test.yml").write_text(yaml.safe_dump(UNIT_TEST))
    proc = subprocess.run(
        [promtool(), "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
