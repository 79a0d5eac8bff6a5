"""``llmdeck doctor``: does every configured backend answer?"""

from __future__ import annotations

import argparse
import time
from typing import Any

from connectors import discovery
from connectors.records import BackendStatus
from connectors.support.redact import scrub
from console.commands.common import open_session
from console.core.errors import LlmdeckError


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check every configured backend and print what works")
    p.set_defaults(func=run)


def check(session: Any, spec: Any) -> tuple[BackendStatus, float]:
    started = time.perf_counter()
    try:
        connector = session.build(spec)
        status = connector.ping()
        connector.close()
    except LlmdeckError as exc:
        status = BackendStatus(ok=False, detail=str(exc))
    except Exception as exc:  # a bug in one connector must not hide the others' rows
        status = BackendStatus(ok=False, detail=f"{type(exc).__name__}: {scrub(str(exc))}")
    return status, (time.perf_counter() - started) * 1000


def run(args: argparse.Namespace) -> int:
    session = open_session(args)
    p = session.profile
    mode = "read-only" if session.read_only else "read-write"
    print(f"profile {p.name} ({p.environment}, {mode}) from {p.source}")
    rows = []
    ok = True
    specs = [(cap, p.connectors.get(cap)) for cap in discovery.CAPABILITIES if cap != "replay"]
    specs += [(f"replay:{name}", spec) for name, spec in p.replay_targets.items()]
    for label, spec in specs:
        if spec is None:
            rows.append((label, "-", "missing", "", "", "not configured"))
            continue
        status, took = check(session, spec)
        ok &= status.ok
        rtt = status.rtt_ms if status.rtt_ms is not None else took
        rows.append(
            (
                label,
                spec.kind,
                "ok" if status.ok else "FAILED",
                status.version,
                f"{rtt:.0f} ms",
                status.detail,
            )
        )
    widths = [max(len(str(r[i])) for r in [*rows, _HEAD]) for i in range(5)]
    for row in [_HEAD, *rows]:
        print(
            "  ".join(str(c).ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
        )
    return 0 if ok else 1


_HEAD = ("capability", "connector", "status", "version", "rtt", "detail")
