"""Small workspaces whose traffic starts and stops at known moments, for the
absence tests (tests/unit/test_absence*.py, tests/journeys/test_absence.py).

Each route gets one request every ``every`` from its start to its stop (the
stop included, at the exact second given), written through
``connectors.workspace.store.insert_records`` like any ingest, with a profile
``llmdeck.yaml`` beside the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from connectors.records import RequestRecord
from connectors.workspace.schema import connect
from connectors.workspace.store import insert_records

MODELS = ("gpt-4o-mini", "claude-3-5-haiku")


def records(
    route: str, start: datetime, stop: datetime, every: timedelta = timedelta(minutes=1)
) -> list[RequestRecord]:
    """A request every ``every`` on ``route`` over [start, stop], the last at ``stop``."""
    out = []
    ts = stop
    i = 0
    while ts >= start:
        out.append(
            RequestRecord(
                request_id=f"{route.strip('/').replace('/', '-')}-{int(ts.timestamp())}",
                ts=ts,
                route=route,
                tenant="t-0123456789ab",
                prompt_id=route.strip("/").split("/")[0] or "p",
                prompt_version="3",
                model_name=MODELS[i % 2],
                tokens_in=900,
                tokens_out=200,
                cost_usd=0.002,
                latency_ms=800.0 + 10 * (i % 7),
                status="error" if i % 25 == 0 else "ok",
                refusal=i % 10 == 0,
            )
        )
        ts -= every
        i += 1
    return out


def workspace(
    path: Path,
    routes: Mapping[str, tuple[datetime, datetime]],
    alerts: str = "",
) -> Path:
    """A workspace at ``path`` with traffic on each route over its (start, stop),
    and a profile ``w`` (``alerts`` is the profile's ``alerts:`` value, e.g.
    ``{absent_after: 30m}``). Returns the config file."""
    path.mkdir(parents=True, exist_ok=True)
    conn = connect(path / "store.db")
    try:
        for route, (start, stop) in routes.items():
            insert_records(conn, records(route, start, stop))
    finally:
        conn.close()
    cfg = path / "llmdeck.yaml"
    cfg.write_text(
        "default_profile: w\n"
        "profiles:\n"
        "  w:\n"
        "    workspace: .\n"
        "    refresh_seconds: 0.3\n"
        "    metrics: {kind: workspace}\n"
        "    request_log: {kind: workspace}\n" + (f"    alerts: {alerts}\n" if alerts else "")
    )
    return cfg
