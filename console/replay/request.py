"""What a replay sends: the replay contract of DESIGN.md applied to one record.

- The same parameters and seed as logged (``stream`` is never replayed).
- The same messages, or the logged ``variables`` re-rendered with another
  prompt version's template (``{{var}}`` placeholders) when asked. Messages
  after the template's own (earlier turns, tool calls and tool results) are
  kept as logged.
- The logged retrieval context: it is already in the logged messages or
  variables; a fresh retrieval is never made, and a variable the new template
  needs but the log lacks is an error, not a guess.
- Tools are never executed: their definitions are offered as logged and
  logged tool results are replayed as they were.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.records import PromptVersion, RequestRecord
from console.core.errors import LlmdeckError

NOT_LOGGED = "cannot replay: content not logged"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")


class NotReplayable(LlmdeckError):
    """The record cannot be replayed as asked; the message says why."""


@dataclass(frozen=True)
class ReplayRequest:
    """One chat completion to send, and where it came from."""

    request_id: str
    messages: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any]
    model: str
    prompt_id: str = ""
    prompt_version: str = ""  # the version whose text is sent
    rerendered: bool = False  # True when variables were rendered with another version
    retrieval: Mapping[str, Any] | None = None
    tools: tuple[Mapping[str, Any], ...] = field(default=())

    def body_params(self) -> dict[str, Any]:
        """The parameters to send, tool definitions included."""
        params = dict(self.params)
        if self.tools:
            params["tools"] = [dict(t) for t in self.tools]
        return params

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "model": self.model,
            "messages": [dict(m) for m in self.messages],
            "params": dict(self.params),
            "tools": [dict(t) for t in self.tools],
            "prompt_id": self.prompt_id,
            "prompt_version": self.prompt_version,
            "rerendered": self.rerendered,
            "retrieval": dict(self.retrieval) if self.retrieval else None,
        }


def render(text: str, variables: Mapping[str, Any], where: str) -> str:
    """``text`` with every ``{{var}}`` replaced. Raises NotReplayable for a missing one."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise NotReplayable(f"cannot re-render {where}: variable {name!r} was not logged")
        return str(variables[name])

    return _PLACEHOLDER.sub(value, text)


def build_request(
    record: RequestRecord,
    *,
    model: str,
    version: PromptVersion | None = None,
    logged_version: PromptVersion | None = None,
    seed: int | None = None,
) -> ReplayRequest:
    """The replay of ``record`` sent to ``model``.

    ``version`` re-renders the logged variables with that prompt version;
    ``logged_version`` (the version the record was made with, when the
    registry has it) lets the new text keep the logged message layout.
    ``seed`` replaces the logged seed (to check that another seed differs).
    Raises NotReplayable (content not logged, variables missing).
    """
    params = {k: v for k, v in record.params.items() if k not in ("stream", "model")}
    if seed is not None:
        params["seed"] = seed
    if version is None:
        if not record.has_content:
            raise NotReplayable(NOT_LOGGED)
        messages = tuple(dict(m) for m in record.messages)
        used, rerendered = record.prompt_version, False
    else:
        if record.variables is None:
            raise NotReplayable(
                NOT_LOGGED
                if not record.has_content
                else "cannot re-render: the request's variables were not logged"
            )
        messages = rerender(record.messages, record.variables, version, logged_version)
        used, rerendered = version.version, True
    return ReplayRequest(
        request_id=record.request_id,
        messages=messages,
        params=params,
        model=model,
        prompt_id=record.prompt_id,
        prompt_version=used,
        rerendered=rerendered,
        retrieval=record.retrieval,
        tools=tuple(dict(t) for t in record.tools),
    )


def rerender(
    logged: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    version: PromptVersion,
    logged_version: PromptVersion | None = None,
) -> tuple[dict[str, Any], ...]:
    """The messages of ``version`` rendered with ``variables``, followed by the
    logged messages that did not come from the template (later turns, tool calls
    and results). Re-rendering with the logged version gives the logged messages."""
    where = f"{version.name}@{version.version}"
    n = _template_length(logged, logged_version)
    rest = [dict(m) for m in logged[n:]]
    if version.messages:
        head = [
            {**dict(m), "content": render(str(m.get("content", "")), variables, where)}
            for m in version.messages
        ]
    elif version.template is not None:
        head = _lay_out(
            render(version.template, variables, where), logged[:n], logged_version, variables
        )
    else:
        raise NotReplayable(f"cannot re-render: {where} has no template")
    return tuple(head + rest)


def _template_length(
    logged: Sequence[Mapping[str, Any]], logged_version: PromptVersion | None
) -> int:
    """How many leading logged messages the template produced."""
    if logged_version is not None and logged_version.messages:
        n = len(logged_version.messages)
        roles = [m.get("role") for m in logged[:n]]
        if roles == [m.get("role") for m in logged_version.messages]:
            return n
    n = 0
    while n < len(logged) and logged[n].get("role") in ("system", "user", "developer"):
        n += 1
    return n


def _lay_out(
    text: str,
    logged_head: Sequence[Mapping[str, Any]],
    logged_version: PromptVersion | None,
    variables: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """A rendered text prompt laid out as the logged one was.

    Gateways often send a text template as a system message (instructions and
    context) and a user message (the user's turn). When the logged messages
    are such a split of the logged version's rendered text, the new text is
    split at the same separator; otherwise it is sent as one user message.
    """
    roles = [m.get("role") for m in logged_head]
    if roles == ["system", "user"] and logged_version is not None and logged_version.template:
        try:
            old = render(logged_version.template, variables, "the logged version")
        except NotReplayable:
            old = ""
        system, user = (str(m.get("content", "")) for m in logged_head)
        if old.startswith(system) and old.endswith(user) and len(system) + len(user) < len(old):
            sep = old[len(system) : len(old) - len(user)]
            cut = text.rfind(sep)
            if cut >= 0:
                return [
                    {"role": "system", "content": text[:cut]},
                    {"role": "user", "content": text[cut + len(sep) :]},
                ]
    return [{"role": "user", "content": text}]
