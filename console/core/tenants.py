"""Tenant display names: the profile's ``tenants:`` map (stored hash -> name).

Request logs keep tenants hashed (DESIGN.md), so screens would otherwise show
``t-cef41eed96b2`` where an operator thinks "acme". Every screen and command
shows ``display(...)``; every filter and setting that names a tenant goes
through ``stored(...)``, which takes a display name, a raw id or a hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.logsources.mapping import stored_id


def names(profile: Any) -> dict[str, str]:
    """The profile's hash -> name map ({} when it has none). ``profile`` is a
    Profile, or anything with one (a Session)."""
    profile = getattr(profile, "profile", profile)
    settings = getattr(profile, "settings", None) or {}
    return {str(k): str(v) for k, v in (settings.get("tenants") or {}).items()}


def display(tenants: Mapping[str, str], tenant: str) -> str:
    """The name of a stored tenant id, or the id itself when it has none."""
    return tenants.get(tenant, tenant)


def stored(tenants: Mapping[str, str], value: str) -> str:
    """The stored (hashed) id for a display name, a raw id or a stored id."""
    for hashed, name in tenants.items():
        if name == value:
            return hashed
    return stored_id("tenant", value)
