"""What the Diff screen (and ``llmdeck diff``) shows: two prompt versions
compared, and the traffic each served over the same window.

Per-version traffic reads the per-minute and per-hour rollups, never the
request table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from connectors.errors import NotFound
from connectors.records import PromptVersion
from connectors.workspace.rollups import pieces, quantile
from connectors.workspace.schema import N_LAT_BUCKETS
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.diff.compare import VersionDiff, compare


@dataclass(frozen=True)
class VersionTraffic:
    """What one prompt version served in a window. Rates are fractions; None: no traffic."""

    version: str
    requests: int
    refusal_rate: float | None
    cost_per_request: float | None
    latency_p95_ms: float | None
    output_tokens: float | None


def traffic(
    conn: sqlite3.Connection, prompt_id: str, start: datetime, end: datetime
) -> dict[str, VersionTraffic]:
    """Per-version traffic of ``prompt_id`` over [start, end), from the rollups."""
    lat = ", ".join(f"SUM(lat_{i})" for i in range(N_LAT_BUCKETS))
    sums: dict[str, list[float]] = {}
    for table, lo, hi in pieces(int(start.timestamp()), int(end.timestamp())):
        if lo >= hi:
            continue
        rows = conn.execute(
            f"SELECT prompt_version, SUM(n), SUM(refusals), SUM(cost_usd), SUM(tokens_out), {lat} "
            f"FROM {table} WHERE bucket >= ? AND bucket < ? AND prompt_id = ? GROUP BY 1",
            (lo, hi, prompt_id),
        )
        for version, *vals in rows:
            acc = sums.setdefault(str(version), [0.0] * len(vals))
            for i, v in enumerate(vals):
                acc[i] += v or 0
    out = {}
    for version, (n, refusals, cost, tokens_out, *buckets) in sums.items():
        out[version] = VersionTraffic(
            version,
            int(n),
            refusals / n if n else None,
            cost / n if n else None,
            quantile(0.95, buckets),
            tokens_out / n if n else None,
        )
    return out


def newest_in_traffic(conn: sqlite3.Connection, start: datetime, end: datetime) -> str | None:
    """``prompt@version`` of the prompt version that served in [start, end) and
    first served most recently: what changed last, the on-call's first suspect.
    None when nothing served. Reads the hourly rollup only."""
    row = conn.execute(
        "SELECT prompt_id, prompt_version, MIN(bucket) AS first FROM rollup_hour "
        "WHERE prompt_id != '' GROUP BY 1, 2 HAVING MAX(bucket) >= ? AND first < ? "
        "ORDER BY first DESC LIMIT 1",
        (int(start.timestamp()) // 3600 * 3600, int(end.timestamp())),
    ).fetchone()
    return f"{row[0]}@{row[1]}" if row else None


def split_ref(text: str) -> tuple[str, str]:
    """``NAME@REF`` -> (name, ref); ``v14`` means version 14. Raises LlmdeckError otherwise."""
    name, sep, ref = text.rpartition("@")
    if not sep or not name or not ref:
        raise LlmdeckError(f"{text!r}: expected NAME@VERSION or NAME@ALIAS")
    if ref[0] in "vV" and ref[1:].isdigit():  # "v14" as the screens print it
        ref = ref[1:]
    return name, ref


def predecessor(versions: Sequence[PromptVersion], version: str) -> PromptVersion | None:
    """The version listed just before ``version`` (None for the first)."""
    for i, v in enumerate(versions):
        if v.version == version:
            return versions[i - 1] if i else None
    return None


def flag_versions(session: Session, key: str) -> tuple[str, str, str]:
    """The prompt and the two versions a flag routes between: ``(name, older, newer)``.

    The flag names its prompt in ``metadata.prompt`` and each variant's value is a
    prompt version (the demo's rollout flags). Raises LlmdeckError otherwise.
    """
    flags = session.flags()
    if flags is None:
        raise LlmdeckError(f"profile {session.profile.name!r} has no flags connector")
    flag = flags.flag(key)
    name = flag.metadata.get("prompt", "")
    env = flag.env(session.profile.environment) or (
        flag.environments[0] if flag.environments else None
    )
    values = sorted(
        {str(v.value) for v in (env.variants if env else ()) if isinstance(v.value, str | int)},
        key=lambda v: (len(v), v),
    )
    if not name or len(values) < 2:
        raise LlmdeckError(
            f"flag {key!r} does not route between prompt versions "
            "(needs metadata.prompt and variants whose values are versions)"
        )
    return name, values[-2], values[-1]


@dataclass(frozen=True)
class DiffView:
    """A comparison and the traffic each side served over the same window."""

    diff: VersionDiff
    traffic: Mapping[str, VersionTraffic]
    start: datetime
    end: datetime
    errors: list[str]


def load_diff(
    session: Session, name: str, a: str, b: str | None, start: datetime, end: datetime
) -> DiffView:
    """Compare ``name@a`` with ``name@b`` (``b`` None: ``a`` against its predecessor).

    Raises NotFound (unknown name, version or alias) and other ConnectorErrors.
    """
    registry = session.need_registry()
    if b is None:
        newer = registry.get(name, a)
        older = predecessor(registry.versions(name), newer.version)
        if older is None:
            raise NotFound(f"{name}@{a}: the first version has no predecessor")
    else:
        older, newer = registry.get(name, a), registry.get(name, b)
    served: dict[str, VersionTraffic] = {}
    if session.profile.workspace is not None:
        try:
            served = traffic(session.store(), name, start, end)
        except (sqlite3.Error, LlmdeckError):
            served = {}  # no request log: the diff itself still shows
    return DiffView(compare(older, newer), served, start, end, registry.problems())
