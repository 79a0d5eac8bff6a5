"""What read-only means, per action: one table that the CLI and the console share.

Two levels, because they protect different things:

- a **read-only profile** (``read_only: true``, the default in production)
  protects the backends: no flag, weight, kill-switch or alias change leaves
  llmdeck (the write pipeline refuses and audits, the connector refuses too).
  Replays to non-production targets, ingest into the local workspace and
  exports stay allowed: the on-call engineer's workflow (see DESIGN.md) is to
  open production read-only, read, replay on staging and only then ask to
  write. Break glass lifts it, with a reason, audited.
- ``--read-only`` on the command line is the operator's promise that this run
  changes nothing shared: on top of the above, no replay is sent (it is
  traffic and cost on a model endpoint, and its result is stored in the
  workspace), nothing is ingested (the workspace store may be a team's), and
  break glass is refused. The only write left is the audit entry recording a
  refused attempt: the trail must show attempts too.

Exports (audit, replay golden/promptfoo, diff, request copy) stay allowed in
both: they write a file the operator names and nothing else, the same as
``--json > FILE``; refusing them would protect nothing.
"""

from __future__ import annotations

from typing import Protocol

from console.core.errors import LlmdeckError

# action -> why --read-only refuses it (the README's table says the same).
LOCAL_WRITES: dict[str, str] = {
    "ingest": "it writes the workspace store",
    "replay": "it sends requests to a model endpoint and stores the results",
    "incident": "it writes the incident record in the workspace store",
}


class ReadOnlyRefused(LlmdeckError):
    """An action that --read-only forbids; the message says which and why."""


class _Session(Protocol):
    forced_read_only: bool


def check_local(session: _Session, action: str) -> None:
    """Refuse ``action`` (a key of LOCAL_WRITES) under --read-only.

    Raises ReadOnlyRefused. A read-only profile alone allows it (see above).
    """
    if session.forced_read_only:
        raise ReadOnlyRefused(f"refused under --read-only: {action} ({LOCAL_WRITES[action]})")
