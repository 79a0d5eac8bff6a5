"""Log sources: read what gateways and tracers write and map it onto the
canonical ``RequestRecord``.

- ``jsonl``: the seed schema, one JSON object a line (files, ``.gz``, follow
  mode that survives rotation);
- ``otlp``: OTLP/JSON trace exports with OpenTelemetry GenAI attributes;
- ``litellm``: LiteLLM's paginated ``/spend/logs/v2``, read in bounded windows.

Every reader yields records and ``Problem`` values side by side, so one bad
line is reported (where and why) and never stops the rest.
"""
