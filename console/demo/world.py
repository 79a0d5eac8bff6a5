"""The demo's world: routes, prompts and their versions, models, tenants.

Plain data, shared by the traffic generator, the workspace files it writes
(registry, flags, policy) and the tests that check the incident is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from connectors.logsources.mapping import hash_id


def hashed(kind: str, raw: str) -> str:
    """The stored form of a tenant or user id: never the raw value (the same
    hash every log source applies, so demo and ingested tenants match)."""
    return hash_id(kind, raw)


@dataclass(frozen=True)
class Model:
    name: str
    provider: str
    digest: str
    input_per_1k: float
    output_per_1k: float
    latency_per_token_ms: float
    fingerprints: tuple[str, str]  # before and after a provider-side change mid-week


@dataclass(frozen=True)
class PromptSpec:
    version: str
    released_ago: timedelta  # how long before "now" this version took over
    refusal_rate: float
    output_scale: float  # mean output length relative to the route's baseline
    template: str
    description: str
    author: str
    temperature: float = 0.7
    max_tokens: int = 512
    eval_pass_ratio: float = 0.92


@dataclass(frozen=True)
class Route:
    path: str
    prompt: str
    share: float
    models: tuple[tuple[str, float], ...]
    mean_tokens_in: int
    mean_tokens_out: int
    versions: tuple[PromptSpec, ...]
    flag: str
    chat: bool = False
    questions: tuple[str, ...] = field(default=())


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model(
            "gpt-4o-mini",
            "openai",
            "sha256:7d1e0c4a9f3b",
            0.00015,
            0.0006,
            9.0,
            ("fp_44709d6fcb", "fp_0ba0d124f1"),
        ),
        Model(
            "claude-3-5-haiku", "anthropic", "sha256:c2a81f66e0d4", 0.0008, 0.004, 11.0, ("", "")
        ),
        Model(
            "llama-3.1-8b-instruct",
            "vllm",
            "sha256:91be57d0aa12",
            0.0001,
            0.0002,
            14.0,
            ("b2531-vllm", "b2531-vllm"),
        ),
    )
}

TENANTS: tuple[tuple[str, float], ...] = (
    ("acme", 0.28),
    ("globex", 0.26),
    ("initech", 0.2),
    ("umbrella", 0.16),
    ("hooli", 0.10),
)
SPIKE_TENANT = "acme"  # spends about 5x its usual rate for the last SPIKE_HOURS
SPIKE_HOURS = 5
HASH_ONLY_TENANT = "hooli"  # logs hashes only: its requests cannot be replayed
INCIDENT_ROUTE = "/support/chat"
INCIDENT_PROMPT = "support-answer"
GOOD_VERSION, BAD_VERSION = "13", "14"
CANARY_AGO = timedelta(hours=3)
FINGERPRINT_CHANGE_AGO = timedelta(days=2, hours=7)
POLICY_VERSION = "gw-policy-7"

_SUPPORT_Q = (
    "How do I reset my password?",
    "Why was I charged twice this month?",
    "Can I export my data to CSV?",
    "How do I add a teammate to my workspace?",
    "The mobile app crashes on start, what can I do?",
    "How do I cancel my subscription?",
    "Is there an API rate limit?",
    "How do I enable two-factor authentication?",
    "Where can I find my invoices?",
    "Can I change the billing currency?",
    "How long are backups kept?",
    "Why is the dashboard slow today?",
)
_TICKET_Q = (
    "Customer cannot log in after SSO migration; tried clearing cookies.",
    "Invoice shows wrong VAT number for the EU entity.",
    "Webhook deliveries fail with 410 since Tuesday.",
    "Export job stuck at 99% for a large workspace.",
    "User reports data loss after offline edit conflict.",
    "Request for a refund of an annual plan after 10 days.",
)
_SQL_Q = (
    "Weekly active users by plan for the last quarter",
    "Top 10 tenants by spend this month",
    "Churned accounts with open tickets",
    "Median response time per support agent",
    "Revenue by region and month",
    "Orders with a refund larger than the original amount",
)

_SUPPORT_TMPL = (
    "You are the support assistant for Northwind Cloud. Answer the customer's question "
    "using only the context below. {style}\n\nContext:\n{{{{context}}}}\n\n"
    "Question: {{{{question}}}}"
)


def _support(
    v: str,
    days: float,
    refusal: float,
    scale: float,
    style: str,
    desc: str,
    author: str,
    eval_ratio: float,
) -> PromptSpec:
    return PromptSpec(
        v,
        timedelta(days=days),
        refusal,
        scale,
        _SUPPORT_TMPL.format(style=style),
        desc,
        author,
        eval_pass_ratio=eval_ratio,
    )


ROUTES: tuple[Route, ...] = (
    Route(
        INCIDENT_ROUTE,
        INCIDENT_PROMPT,
        0.5,
        (("gpt-4o-mini", 0.75), ("claude-3-5-haiku", 0.25)),
        900,
        230,
        (
            _support(
                "11",
                7,
                0.01,
                1.0,
                "Be friendly and thorough.",
                "first KB-grounded version",
                "maria",
                0.90,
            ),
            _support(
                "12",
                5,
                0.008,
                1.05,
                "Be friendly and thorough. Cite the article.",
                "cite KB articles",
                "maria",
                0.92,
            ),
            _support(
                "13",
                2,
                0.006,
                1.0,
                "Be friendly and thorough. Cite the article. Never promise refunds.",
                "no refund promises",
                "dev",
                0.93,
            ),
            _support(
                "14",
                CANARY_AGO.total_seconds() / 86400,
                0.30,
                0.6,
                "Be brief. Refuse anything not covered by the context. Never promise refunds.",
                "shorter answers, stricter grounding",
                "dev",
                0.81,
            ),
        ),
        "support-answer-rollout",
        questions=_SUPPORT_Q,
    ),
    Route(
        "/tickets/summarize",
        "ticket-summary",
        0.3,
        (("gpt-4o-mini", 0.6), ("llama-3.1-8b-instruct", 0.4)),
        1400,
        160,
        tuple(
            PromptSpec(
                v,
                timedelta(days=d),
                0.01,
                1.0,
                "Summarise the support ticket in three bullet points: {{ticket}}",
                desc,
                "sam",
                0.2,
                300,
                0.95,
            )
            for v, d, desc in (("2", 7, "three bullets"), ("3", 4, "mention the customer plan"))
        ),
        "ticket-summary-rollout",
        chat=True,
        questions=_TICKET_Q,
    ),
    Route(
        "/analytics/sql",
        "sql-assistant",
        0.2,
        (("claude-3-5-haiku", 0.5), ("llama-3.1-8b-instruct", 0.5)),
        700,
        120,
        tuple(
            PromptSpec(
                v,
                timedelta(days=d),
                0.015,
                1.0,
                "Write one SQLite query for: {{request}}. Tables: {{schema}}",
                desc,
                "lee",
                0.0,
                256,
                0.9,
            )
            for v, d, desc in (("6", 7, "schema in prompt"), ("7", 3.5, "use the run_sql tool"))
        ),
        "sql-assistant-rollout",
        questions=_SQL_Q,
    ),
)
ROUTES_BY_PATH = {r.path: r for r in ROUTES}
