"""A policy decision from the value of the gateway's policy package.

Rego in process and an OPA server both answer with the package's value:
``allowed`` from its ``allow`` rule (None when undefined) and every message of
its ``deny`` set (``{"msg": ...}`` objects or plain strings), sorted.
"""

from __future__ import annotations

from typing import Any

import orjson

from connectors.errors import (
    InvalidResponse,
)
from connectors.records import PolicyDecision


def decision(value: Any) -> PolicyDecision:
    """A decision from the value of the policy package (or of its ``allow`` rule).

    ``None`` (undefined) gives ``allowed=None``. Raises InvalidResponse for
    anything that is neither a package object nor a boolean.
    """
    if value is None:
        return PolicyDecision(allowed=None, raw=None)
    if isinstance(value, bool):
        return PolicyDecision(allowed=value, raw=value)
    if not isinstance(value, dict):
        raise InvalidResponse("policy result is neither an object nor a boolean")
    allow = value.get("allow")
    if allow is not None and not isinstance(allow, bool):
        raise InvalidResponse(f"result.allow is {type(allow).__name__}, expected a boolean")
    deny = value.get("deny") or ()
    # A Rego set arrives as a JSON array; a number or an object here is a policy
    # that does not follow the gateway's contract, not a list of reasons.
    if not isinstance(deny, list | tuple):
        raise InvalidResponse(f"result.deny is {type(deny).__name__}, expected an array")
    denials = []
    for item in deny:
        if isinstance(item, dict):
            denials.append(str(item.get("msg", orjson.dumps(item).decode())))
        else:
            denials.append(str(item))
    return PolicyDecision(
        allowed=allow if isinstance(allow, bool) else None,
        denials=tuple(sorted(denials)),
        raw=value,
    )
