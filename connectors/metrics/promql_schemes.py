"""PromQL templates for the three built-in metric naming schemes.

A scheme maps every logical signal (``connectors.base.SIGNALS``) to a PromQL
template and every grouping (``GROUPINGS``) to the label that carries it.
Templates use ``string.Template`` placeholders:

- ``$by``: the grouping label, or nothing (``sum by ()`` sums everything);
- ``$le_by``: ``le`` plus the grouping label, for ``histogram_quantile``;
- ``$window``: the rate window, a PromQL duration such as ``300s``.

Every rate signal is written as ``rate(...[$window])``: over a chart step it
gives the per-step rate, and evaluated once at the end of a range with the
whole range as window it gives the range's average, which is what the KPI
strip shows. So the KPIs and the charts share one template per signal.

Names as they appear in Prometheus 2.x (no UTF-8 names): OpenTelemetry's
``gen_ai.client.token.usage`` is exported as ``gen_ai_client_token_usage``
and ``gen_ai.client.operation.duration`` (unit ``s``) as
``gen_ai_client_operation_duration_seconds``, attributes with dots become
labels with underscores (``gen_ai_request_model``, ``gen_ai_token_type``).
Counters carry the ``_total`` suffix that client libraries add.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from string import Template


@dataclass(frozen=True)
class Selector:
    """A series selector: a metric name and the label matchers it always carries."""

    metric: str
    matchers: tuple[str, ...] = ()

    def render(self, extra: Sequence[str] = ()) -> str:
        """``metric{matchers, extra}`` (the bare name when there are none)."""
        matchers = (*self.matchers, *extra)
        return f"{self.metric}{{{', '.join(matchers)}}}" if matchers else self.metric


@dataclass(frozen=True)
class SloSeries:
    """What SLO recording rules count in a scheme (``llmdeck slo rules``).

    The panels' templates are finished ratios; a burn-rate rule needs the
    parts: ``events`` maps a rate signal to its (bad, all) counters,
    ``pass_ratio`` a pass-ratio signal to its gauge in [0, 1], ``latency`` is
    the request-duration histogram's ``_bucket`` series, whose ``le`` is in
    units of ``latency_unit_ms`` milliseconds. A signal missing here has no
    SLO rule in the scheme (``Scheme.notes`` says why).
    """

    events: Mapping[str, tuple[Selector, Selector]] = field(default_factory=dict)
    pass_ratio: Mapping[str, Selector] = field(default_factory=dict)
    latency: Selector | None = None
    latency_unit_ms: float = 1.0


@dataclass(frozen=True)
class Scheme:
    """One naming scheme: PromQL per signal, label per grouping.

    A signal or grouping missing from the maps is not offered by the scheme;
    asking for it raises ValueError naming the profile key that would add it.
    """

    name: str
    labels: Mapping[str, str]
    signals: Mapping[str, str]
    notes: Mapping[str, str] = field(default_factory=dict)
    slo: SloSeries = field(default_factory=SloSeries)

    def render(self, signal: str, group_by: str, window_s: int) -> str:
        """The PromQL for ``signal`` grouped by ``group_by`` with a rate window in seconds.

        Raises ValueError for a signal or grouping this scheme does not offer.
        """
        template = self.signals.get(signal)
        if not template:
            raise ValueError(
                f"scheme {self.name!r} has no query for {signal!r}; "
                f"set panels.{signal} in the profile"
            )
        if group_by == "none":
            label = ""
        elif group_by in self.labels:
            label = self.labels[group_by]
        else:
            raise ValueError(f"scheme {self.name!r} has no label for grouping {group_by!r}")
        le_by = "le" + (f", {label}" if label else "")
        return Template(template).safe_substitute(
            by=label, le_by=le_by, window=f"{max(1, int(window_s))}s"
        )

    def with_overrides(self, panels: Mapping[str, str]) -> Scheme:
        """A copy whose signal templates are replaced by the profile's ``panels``."""
        return Scheme(self.name, self.labels, {**self.signals, **panels}, self.notes, self.slo)


def _ratio(numerator: str, denominator: str) -> str:
    # "or ... * 0": a numerator with no series yet (no errors at all) is a
    # rate of 0, not an empty answer.
    return (
        f"(sum by ($by) ({numerator}) or sum by ($by) ({denominator}) * 0)"
        f" / sum by ($by) ({denominator})"
    )


def _quantile(q: float, bucket: str, scale: str = "") -> str:
    return f"histogram_quantile({q}, sum by ($le_by) (rate({bucket}[$window]))){scale}"


_PLAYBOOK_REQ = "rate(llm_requests_total[$window])"
PLAYBOOK = Scheme(
    "playbook",
    labels={
        "model": "model",
        "prompt_version": "prompt_version",
        "route": "route",
        "tenant": "tenant",
    },
    signals={
        "requests": "sum by ($by) (rate(llm_requests_total[$window])) * 60",
        "tokens_in": "sum by ($by) (rate(tokens_in_total[$window])) * 60",
        "tokens_out": "sum by ($by) (rate(tokens_out_total[$window])) * 60",
        "cost": "sum by ($by) (rate(cost_dollars_total[$window])) * 3600",
        "latency_p50": _quantile(0.5, "generation_latency_ms_bucket"),
        "latency_p95": _quantile(0.95, "generation_latency_ms_bucket"),
        "latency_p99": _quantile(0.99, "generation_latency_ms_bucket"),
        "error_rate": _ratio(
            'rate(llm_requests_total{status=~"error|timeout"}[$window])', _PLAYBOOK_REQ
        ),
        "block_rate": _ratio("rate(safety_block_count[$window])", _PLAYBOOK_REQ),
        "refusal_rate": _ratio("rate(refusal_count[$window])", _PLAYBOOK_REQ),
        "output_tokens": _ratio("rate(tokens_out_total[$window])", _PLAYBOOK_REQ),
        "eval_pass_ratio": "avg by ($by) (eval_pass_ratio)",
    },
    notes={
        "requests": "llm_requests_total{status} counts requests (see docs/backends.md)",
        "refusal_rate": "refusal_count counts refusals, named like safety_block_count",
    },
    slo=SloSeries(
        events={
            "refusal_rate": (Selector("refusal_count"), Selector("llm_requests_total")),
            "error_rate": (
                Selector("llm_requests_total", ('status=~"error|timeout"',)),
                Selector("llm_requests_total"),
            ),
            "block_rate": (Selector("safety_block_count"), Selector("llm_requests_total")),
        },
        pass_ratio={"eval_pass_ratio": Selector("eval_pass_ratio")},
        latency=Selector("generation_latency_ms_bucket"),
    ),
)

_OTEL_DUR = "gen_ai_client_operation_duration_seconds"
OTEL_GENAI = Scheme(
    "otel-genai",
    labels={
        "model": "gen_ai_request_model",
        "prompt_version": "prompt_version",
        "route": "route",
        "tenant": "tenant",
    },
    signals={
        "requests": f"sum by ($by) (rate({_OTEL_DUR}_count[$window])) * 60",
        "tokens_in": "sum by ($by) (rate(gen_ai_client_token_usage_sum"
        '{gen_ai_token_type="input"}[$window])) * 60',
        "tokens_out": "sum by ($by) (rate(gen_ai_client_token_usage_sum"
        '{gen_ai_token_type="output"}[$window])) * 60',
        # Seconds in OpenTelemetry, milliseconds on the panels.
        "latency_p50": _quantile(0.5, f"{_OTEL_DUR}_bucket", " * 1000"),
        "latency_p95": _quantile(0.95, f"{_OTEL_DUR}_bucket", " * 1000"),
        "latency_p99": _quantile(0.99, f"{_OTEL_DUR}_bucket", " * 1000"),
        "error_rate": _ratio(
            f'rate({_OTEL_DUR}_count{{error_type!=""}}[$window])',
            f"rate({_OTEL_DUR}_count[$window])",
        ),
        "output_tokens": _ratio(
            'rate(gen_ai_client_token_usage_sum{gen_ai_token_type="output"}[$window])',
            f"rate({_OTEL_DUR}_count[$window])",
        ),
    },
    notes={
        "cost": "OpenTelemetry GenAI conventions define no cost metric",
        "block_rate": "OpenTelemetry GenAI conventions define no safety metric",
        "refusal_rate": "OpenTelemetry GenAI conventions define no refusal metric",
        "eval_pass_ratio": "OpenTelemetry GenAI conventions define no evaluation metric",
    },
    slo=SloSeries(
        events={
            "error_rate": (
                Selector(f"{_OTEL_DUR}_count", ('error_type!=""',)),
                Selector(f"{_OTEL_DUR}_count"),
            ),
        },
        latency=Selector(f"{_OTEL_DUR}_bucket"),
        latency_unit_ms=1000.0,
    ),
)

_LITELLM_REQ = "rate(litellm_proxy_total_requests_metric_total[$window])"
LITELLM = Scheme(
    "litellm",
    labels={"model": "model", "route": "route", "tenant": "team"},
    signals={
        "requests": "sum by ($by) (rate(litellm_proxy_total_requests_metric_total[$window])) * 60",
        "tokens_in": "sum by ($by) (rate(litellm_input_tokens_metric_total[$window])) * 60",
        "tokens_out": "sum by ($by) (rate(litellm_output_tokens_metric_total[$window])) * 60",
        "cost": "sum by ($by) (rate(litellm_spend_metric_total[$window])) * 3600",
        "latency_p50": _quantile(0.5, "litellm_request_total_latency_metric_bucket", " * 1000"),
        "latency_p95": _quantile(0.95, "litellm_request_total_latency_metric_bucket", " * 1000"),
        "latency_p99": _quantile(0.99, "litellm_request_total_latency_metric_bucket", " * 1000"),
        "error_rate": _ratio(
            "rate(litellm_proxy_failed_requests_metric_total[$window])", _LITELLM_REQ
        ),
        "output_tokens": _ratio("rate(litellm_output_tokens_metric_total[$window])", _LITELLM_REQ),
    },
    notes={
        "prompt_version": "LiteLLM's metrics carry no prompt version label",
        "block_rate": "LiteLLM exports no safety-block metric",
        "refusal_rate": "LiteLLM exports no refusal metric",
        "eval_pass_ratio": "LiteLLM exports no evaluation metric",
    },
    slo=SloSeries(
        events={
            "error_rate": (
                Selector("litellm_proxy_failed_requests_metric_total"),
                Selector("litellm_proxy_total_requests_metric_total"),
            ),
        },
        latency=Selector("litellm_request_total_latency_metric_bucket"),
        latency_unit_ms=1000.0,
    ),
)

SCHEMES: dict[str, Scheme] = {s.name: s for s in (PLAYBOOK, OTEL_GENAI, LITELLM)}


def scheme(name: str, panels: Mapping[str, str] | None = None) -> Scheme:
    """The built-in scheme ``name`` with the profile's panel overrides merged over it.

    Raises ValueError naming the known schemes.
    """
    try:
        base = SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown metric scheme {name!r} (known: {', '.join(SCHEMES)})") from None
    return base.with_overrides(panels or {})
