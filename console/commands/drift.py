"""``llmdeck drift``: the Drift screen's rows, worst first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from console.commands.common import open_session
from console.core.errors import LlmdeckError

GROUPS = ("prompt_version", "model", "route", "tenant")


def register(sub: Any) -> None:
    p = sub.add_parser("drift", help="compare a current window with a baseline, per group")
    p.add_argument("--group-by", default="prompt_version", choices=GROUPS, help="grouping")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--all", action="store_true", help="include rows whose status is ok")
    p.set_defaults(func=run, at_kind="reads")


def run(args: argparse.Namespace) -> int:
    from console.drift.report import compute

    session = open_session(args)
    try:
        report = compute(session, args.group_by)
    except ValueError as exc:
        raise LlmdeckError(f"drift: {exc}") from None
    finally:
        session.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
        return 0
    for r in report.rows:
        if r.status == "ok" and not args.all:
            continue
        b = "-" if r.baseline is None else f"{r.baseline:.4g}"
        c = "-" if r.current is None else f"{r.current:.4g}"
        print(
            f"{r.status:8} {r.group:28} {r.label:26} {b:>10} -> {c:<10} {r.test}={r.statistic:.2f}"
        )
    return 0
