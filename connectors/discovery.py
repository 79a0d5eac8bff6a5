"""Which connector kinds exist, without importing any of them.

Built-in kinds are listed here; third-party packages add theirs through the
``llmdeck.connectors`` entry-point group, named ``<capability>.<kind>`` and
pointing at the class (``"metrics.victoria" = "llmdeck_vm:VictoriaMetrics"``).
A connector's module is imported only when a profile uses it, so an unused
connector with heavy dependencies costs nothing at start-up.
"""

from __future__ import annotations

import importlib
from functools import cache

CAPABILITIES: tuple[str, ...] = (
    "metrics",
    "request_log",
    "registry",
    "flags",
    "replay",
    "policy",
    "alerting",
)

BUILTIN: dict[str, str] = {
    "metrics.workspace": "connectors.metrics.workspace:WorkspaceMetrics",
    "metrics.prometheus": "connectors.metrics.prometheus:PrometheusMetrics",
    "request_log.workspace": "connectors.request_log.workspace:WorkspaceRequestLog",
    "registry.files": "connectors.registry.files:FilesRegistry",
    "registry.mlflow": "connectors.registry.mlflow:MlflowRegistry",
    "registry.langfuse": "connectors.registry.langfuse:LangfusePrompts",
    "flags.flagd": "connectors.flags.flagd:FlagdFile",
    "flags.unleash": "connectors.flags.unleash:UnleashFlags",
    "flags.litellm": "connectors.flags.litellm:LiteLLMModels",
    "replay.openai": "connectors.replay.openai:OpenAICompatTarget",
    "policy.rego": "connectors.policy.rego:RegoPolicy",
    "policy.opa": "connectors.policy.opa:OpaHttpPolicy",
    "alerting.prometheus": "connectors.alerting.prometheus:PrometheusAlerts",
    "alerting.alertmanager": "connectors.alerting.alertmanager:AlertmanagerAlerts",
}


@cache
def available() -> dict[str, str]:
    """``"capability.kind" -> "module:Class"`` for built-in and installed connectors."""
    from importlib.metadata import entry_points

    found = dict(BUILTIN)
    for ep in entry_points(group="llmdeck.connectors"):
        found.setdefault(ep.name, ep.value)
    return found


def kinds(capability: str) -> list[str]:
    """The connector kinds that serve ``capability``."""
    prefix = capability + "."
    return sorted(k[len(prefix) :] for k in available() if k.startswith(prefix))


def load(capability: str, kind: str) -> type:
    """The connector class for ``capability``/``kind``.

    Raises KeyError for an unknown kind and ImportError when its module (or a
    dependency) is missing.
    """
    target = available()[f"{capability}.{kind}"]
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
