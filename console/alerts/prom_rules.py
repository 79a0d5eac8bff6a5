"""Prometheus recording and alerting rules for a profile's behaviour SLOs
(``llmdeck slo rules``): plain functions from settings to a rule file, no I/O.

The objectives and the alert settings are the console engine's own
(``console.core.alert_rules``: the same ``slos:`` and ``alerts:``), so the
team's Prometheus pages on what the console pages on. The shape follows Sloth
and Pyrra, here for behaviour objectives: per scope and objective, recording
rules for the bad share over each window (``llmdeck:slo_refusal_rate:ratio_rate5m``,
like Sloth's ``slo:sli_error:ratio_rate5m``), the error budget and what is
left of it over the SLO's period, then one multi-window multi-burn-rate alert
per severity (SRE workbook, chapter 5): it fires when the bad share is above
``factor x budget`` over both windows of any of the severity's pairs, after
``alerts.for`` and held ``alerts.keep_firing_for``. A ``LlmdeckSloNoData``
ticket fires when the series an objective is computed from do not exist for
``alerts.absent_after``: a renamed metric or a missing histogram bucket must
not leave the burn-rate alert silently evaluating to nothing.

Everything of one objective sits in one rule group, recordings first: rules
of a group are evaluated in order, so an alert reads the ratios of the same
evaluation, never the previous one.

Bad shares, by objective mode (as the engine computes them):

- ``rate`` (refusal, error, block rate): bad events / all events, from the
  scheme's counters;
- ``pass`` (``eval_pass_ratio`` at least T): 1 - the pass-ratio gauge averaged
  over the window, budget 1 - T;
- ``slow`` (``p95_latency_ms`` below T): the share of requests slower than T,
  from the duration histogram's bucket at T (``le`` written ``6500`` or
  ``6500.0``), budget 5%.

Scopes: a route key (``/support/chat``) matches the scheme's route label; a
prompt key (``prompt support-answer``) matches ``prompt_id`` when the series
carry it, else ``prompt_version`` values ``NAME@VERSION`` (the playbook's and
the workspace's convention) and is judged per version, as the engine does.

Left out, each with a ``# skipped:`` comment in the file and a line in
``RuleSet.skipped``: an objective the scheme has no series for, a window pair
whose threshold is 100% or more (it could never fire), a window Prometheus
cannot write (below a second), spend budgets (not SLOs). Not carried over:
``alerts.min_requests`` (the engine's floor of requests in the long window).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml

from connectors.metrics.promql_schemes import Scheme, Selector, scheme
from console.core.alert_rules import AlertSettings, Rule, WindowPair, alert_settings, rules
from console.core.config import Profile
from console.core.settings import OBJECTIVES
from console.core.spans import parse_span

PREFIX = "llmdeck"
ALERT_NAME = "LlmdeckSloBurnRate"
NO_DATA_ALERT = "LlmdeckSloNoData"
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


@dataclass(frozen=True)
class RuleSet:
    """A generated rule file: ``text`` (YAML with a comment header), its
    ``groups`` as data, and one line per objective or window ``skipped``."""

    text: str
    groups: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)

    @property
    def rule_count(self) -> int:
        return sum(len(g["rules"]) for g in self.groups)


@dataclass(frozen=True)
class _Scope:
    """Where one rule's series are: the matcher that selects them, the label
    they are summed by, and the label every record and alert of it carries."""

    key: str  # the slos: key
    matcher: str  # route="/support/chat", prompt_version=~"support-answer@.+"
    by: str  # the series label kept by ``sum by``
    label: tuple[str, str]  # (route, /support/chat) or (prompt, support-answer)

    def select(self, objective: str) -> str:
        name, value = self.label
        return f"{{{name}={_quote(value)}, objective={_quote(objective)}}}"


def profile_scheme(profile: Profile, name: str | None = None) -> tuple[Scheme, list[str]]:
    """The naming scheme the profile's metrics use (``name`` overrides it) and
    the signals whose PromQL its panels override.

    The scheme is the Prometheus metrics connector's ``scheme``, overridden
    by ``panels.scheme`` as the console applies it; ``playbook`` otherwise.
    Raises ValueError for an unknown scheme.
    """
    spec = profile.connectors.get("metrics")
    options = spec.options if spec is not None and spec.kind == "prometheus" else {}
    panels = {**(options.get("panels") or {}), **(profile.settings.get("panels") or {})}
    chosen = name or str(panels.get("scheme") or options.get("scheme") or "playbook")
    return scheme(chosen), sorted(k for k in panels if k != "scheme")


def for_profile(profile: Profile, scheme_name: str | None = None) -> RuleSet:
    """The rule file for ``profile``'s ``slos:`` and ``alerts:``.

    Raises ValueError for an unknown scheme, ConfigError for a bad section.
    """
    chosen, overridden = profile_scheme(profile, scheme_name)
    cfg = alert_settings(profile.settings)
    spec = profile.connectors.get("metrics")
    pairs = ", ".join(p.name for p in cfg.pairs) or "none"
    header = [
        f"Generated by `llmdeck slo rules` from profile {profile.name}"
        + (f" ({profile.source})" if profile.source else "")
        + f", metric scheme {chosen.name}. Regenerate it rather than edit it.",
        f"Burn windows: {pairs}; for {_duration(cfg.pending_for)}, "
        f"keep firing for {_duration(cfg.keep_firing_for)}.",
    ]
    if spec is not None and spec.kind != "prometheus" and scheme_name is None:
        header.append(
            f"The profile's metrics source is {spec.kind}, not Prometheus: scheme "
            f"{chosen.name} assumed (--scheme picks another)."
        )
    return generate(
        rules(profile.settings),
        cfg,
        chosen,
        periods=_periods(profile.settings.get("slos") or {}),
        overridden=overridden,
        header=header,
    )


def _periods(slos: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v.get("period", "24h")) for k, v in slos.items() if isinstance(v, dict)}


def generate(
    objectives: Sequence[Rule],
    cfg: AlertSettings,
    scheme: Scheme,
    *,
    periods: dict[str, str] | None = None,
    overridden: Sequence[str] = (),
    header: Sequence[str] = (),
) -> RuleSet:
    """The rule file for ``objectives`` (``alert_rules.rules``), alerting as
    ``cfg`` says, over ``scheme``'s series.

    ``periods`` maps an ``slos:`` key to its ``period`` (default 24h) for the
    budget-remaining record. ``overridden`` names signals whose panel PromQL
    the profile overrides: the rules count the scheme's own series, which a
    comment says. ``header`` lines open the file as comments.
    """
    skipped: list[str] = []
    notes: list[str] = []
    groups: list[dict[str, Any]] = []
    periods = periods or {}
    for rule in objectives:
        key = rule.name if rule.scope == "route" else f"{rule.scope} {rule.name}"
        where = f"{'budgets' if rule.kind == 'budget' else 'slos'}.{key}.{rule.objective}"
        if rule.kind != "slo":
            skipped.append(f"budgets.{rule.name}: a spend budget, not an SLO; no Prometheus rule")
            continue
        scope, reason = _scope(rule, scheme)
        if scope is None:
            skipped.append(f"{where}: {reason}")
            continue
        signal = OBJECTIVES[rule.objective][0]
        if signal in overridden:
            notes.append(
                f"{where}: panels.{signal} is overridden in the profile; these rules count "
                f"scheme {scheme.name}'s own series"
            )
        group, why = _group(scope, rule, periods.get(key, "24h"), cfg, scheme)
        skipped += [f"{where}: {w}" for w in why]
        if group is not None:
            groups.append(group)
    text = _render(groups, [*header, *notes], skipped)
    return RuleSet(text, groups, skipped)


def _scope(rule: Rule, scheme: Scheme) -> tuple[_Scope | None, str]:
    key = rule.name if rule.scope == "route" else f"prompt {rule.name}"
    if rule.scope == "route":
        label = scheme.labels.get("route")
        if not label:
            return None, f"scheme {scheme.name} has no route label"
        return _Scope(key, f"{label}={_quote(rule.name)}", label, ("route", rule.name)), ""
    if "prompt_id" in scheme.labels:
        label = scheme.labels["prompt_id"]
        return _Scope(key, f"{label}={_quote(rule.name)}", label, ("prompt", rule.name)), ""
    version = scheme.labels.get("prompt_version")
    if version:
        # Judged per version, as the engine judges a prompt SLO.
        matcher = f"{version}=~{_quote(_re_escape(rule.name) + '@.+')}"
        return _Scope(key, matcher, version, ("prompt", rule.name)), ""
    why = scheme.notes.get("prompt_version", "no prompt_id or prompt_version label")
    return None, f"scheme {scheme.name}'s series cannot be matched to a prompt ({why})"


def _group(
    scope: _Scope, rule: Rule, period: str, cfg: AlertSettings, scheme: Scheme
) -> tuple[dict[str, Any] | None, list[str]]:
    """The rule group of one objective of one scope, or None and why it is skipped."""
    budget = rule.allowed
    if not 0 < budget < 1:
        return None, [f"an error budget of {budget:g} (need 0 < x < 1)"]
    sli = _sli(scope, rule, scheme)
    if sli is None:
        signal = OBJECTIVES[rule.objective][0]
        reason = scheme.notes.get(signal, f"no series for {signal}")
        return None, [f"scheme {scheme.name} cannot measure it ({reason})"]
    ratio, needed_series = sli
    why: list[str] = []
    pairs: dict[str, list[tuple[WindowPair, str, str]]] = {}
    for pair in cfg.pairs:
        long, short = _duration(pair.long), _duration(pair.short)
        if not long or not short:
            why.append(f"{pair.severity} {pair.name}: Prometheus counts whole seconds")
        elif pair.factor * budget >= 1:
            why.append(
                f"{pair.severity} {pair.name} needs a bad share of "
                f"{pair.factor * budget:.0%}: it could never fire"
            )
        else:
            pairs.setdefault(pair.severity, []).append((pair, long, short))
    period_window = _period(period)
    # window -> seconds, for the records' order
    windows = {lg: p.long for ps in pairs.values() for p, lg, _ in ps}
    windows |= {sh: p.short for ps in pairs.values() for p, _, sh in ps}
    if period_window:
        windows[period_window] = parse_span(period)
    else:
        why.append(f"period {period!r} is not a duration; no budget-remaining rule")
    # The scope's label is on every record too: two routes' records must differ
    # in their static labels, or Prometheus may mix them up (promtool's lint).
    name, value = scope.label
    labels = {name: value, "objective": rule.objective}
    record = f"{PREFIX}:slo_{rule.objective}:ratio_rate"
    group_rules: list[dict[str, Any]] = [
        {"record": f"{record}{w}", "expr": ratio(w), "labels": labels}
        for w in sorted(windows, key=lambda w: windows[w])
    ]
    group_rules.append(
        {
            "record": f"{PREFIX}:slo_error_budget:ratio",
            "expr": f"vector({budget:g})",
            "labels": labels,
        }
    )
    select = scope.select(rule.objective)
    if period_window:
        group_rules.append(
            {
                "record": f"{PREFIX}:slo_period_error_budget_remaining:ratio",
                "expr": f"1 - {record}{period_window}{select} / {budget:g}",
                "labels": labels,
            }
        )
    describe = f"{value}: {_describe(rule)}"
    for severity, ps in pairs.items():
        parts = [
            f"(\n  {record}{long}{select} > ({pair.factor:g} * {budget:g})\n"
            f"  and\n  {record}{short}{select} > ({pair.factor:g} * {budget:g})\n)"
            for pair, long, short in ps
        ]
        spelled = " or ".join(f"{p.factor:g}x over {lg} and {sh}" for p, lg, sh in ps)
        group_rules.append(
            {
                "alert": ALERT_NAME,
                "expr": "\nor\n".join(parts) + "\n",
                **_timing("for", cfg.pending_for),
                **_timing("keep_firing_for", cfg.keep_firing_for),
                "labels": {**labels, "severity": severity},
                "annotations": {
                    "summary": f"{describe}, error budget burning too fast ({severity})",
                    "description": (
                        f"{rule.objective} on {value} burns its error budget ({budget:g}) "
                        f"{spelled}; bad share over the long window: "
                        "{{ $value | humanizePercentage }}."
                    ),
                },
            }
        )
    group_rules.append(
        {
            "alert": NO_DATA_ALERT,
            "expr": f"absent({needed_series})",
            **_timing("for", cfg.absent_after),
            "labels": {**labels, "severity": "ticket"},
            "annotations": {
                "summary": f"{describe}: no data to judge it",
                "description": (
                    f"The burn-rate rules of {rule.objective} on {value} read {needed_series}, "
                    f"which has no series: the {ALERT_NAME} alert cannot fire."
                ),
            },
        }
    )
    group = {"name": f"{PREFIX}-slo {scope.key} {rule.objective}", "rules": group_rules}
    return group, why


def _sli(scope: _Scope, rule: Rule, scheme: Scheme) -> tuple[Callable[[str], str], str] | None:
    """A function window -> PromQL of the bad share, and the series it cannot
    do without (for the no-data alert); None when the scheme lacks them."""
    by, match = scope.by, [scope.matcher]
    slo = scheme.slo
    if rule.mode == "slow":
        if slo.latency is None:
            return None
        le = _le(rule.target / slo.latency_unit_ms)
        fast, every = _bucket(slo.latency, f"=~{le}"), _bucket(slo.latency, '="+Inf"')
        return (
            lambda w: _ratio(
                f"sum by ({by}) (rate({every.render(match)}[{w}]))\n"
                f"  -\n  sum by ({by}) (rate({fast.render(match)}[{w}]))",
                f"sum by ({by}) (rate({every.render(match)}[{w}]))",
                zero=False,
            ),
            fast.render(match),
        )
    signal = OBJECTIVES[rule.objective][0]
    if rule.mode == "pass" and signal in slo.pass_ratio:
        gauge = slo.pass_ratio[signal].render(match)
        return (lambda w: f"1 - avg by ({by}) (avg_over_time({gauge}[{w}]))"), gauge
    if rule.mode == "rate" and signal in slo.events:
        bad, total = (s.render(match) for s in slo.events[signal])
        return (
            lambda w: _ratio(
                f"sum by ({by}) (rate({bad}[{w}]))", f"sum by ({by}) (rate({total}[{w}]))"
            ),
            total,
        )
    return None


def _ratio(bad: str, total: str, *, zero: bool = True) -> str:
    if zero:
        # "or ... * 0": a scope without a single bad event yet has a bad share
        # of 0, not no value (the alert would then never resolve).
        bad = f"{bad}\n  or\n  {total} * 0"
    return f"(\n  {bad}\n)\n/\n{total}\n"


def _bucket(histogram: Selector, le: str) -> Selector:
    return Selector(histogram.metric, (*histogram.matchers, f"le{le}"))


def _le(threshold: float) -> str:
    """The ``le`` matcher of the bucket at ``threshold``: clients write 6500 as
    ``6500`` (Go) or ``6500.0`` (Python), so both match."""
    if float(threshold).is_integer():
        return _quote(f"{int(threshold)}(\\.0)?")
    return _quote(_re_escape(repr(float(threshold))))


def _re_escape(text: str) -> str:
    """``text`` as a literal in an RE2 (Go) regular expression."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


def _describe(rule: Rule) -> str:
    """``refusal rate below 5%``, ``p95 latency below 6500 ms``, ``eval pass ratio at least 90%``"""
    if rule.objective == "p95_latency_ms":
        return f"p95 latency below {rule.target:g} ms"
    words = OBJECTIVES[rule.objective][1]
    return f"{words} {rule.target * 100:g}%"


def _timing(key: str, span: timedelta) -> dict[str, str]:
    text = _duration(span)
    return {key: text} if text and span.total_seconds() > 0 else {}


def _period(text: str) -> str | None:
    """An SLO ``period`` (``24h``, ``30d``) as a PromQL duration, None when it is not one."""
    try:
        return _duration(parse_span(text))
    except ValueError:
        return None


def _duration(span: timedelta) -> str | None:
    """``span`` as a PromQL duration (``5m``, ``1d``), None below a whole second."""
    seconds = span.total_seconds()
    if seconds < 1 or seconds != int(seconds):
        return None
    s = int(seconds)
    unit, size = next((u, n) for u, n in _UNITS if s % n == 0)
    return f"{s // size}{unit}"


def _quote(value: str) -> str:
    # A JSON string is a valid PromQL (Go) string literal: quotes, backslashes
    # and control characters escaped.
    return json.dumps(value)


class _Dumper(yaml.SafeDumper):
    """Multi-line PromQL as literal blocks, the way rule files are written by
    hand; no anchors for repeated label maps (``&id001`` reads as noise)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _render(groups: list[dict[str, Any]], notes: Sequence[str], skipped: Sequence[str]) -> str:
    lines = [f"# {n}" for n in notes]
    lines += [f"# skipped: {s}" for s in skipped]
    body = yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=100)
    return "\n".join(lines) + ("\n" if lines else "") + body
