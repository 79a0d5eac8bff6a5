"""``llmdeck metrics``: the Overview's figures for scripts and cron alerts."""

from __future__ import annotations

import argparse
import json
from typing import Any

from connectors.base import GROUPINGS
from console.commands.common import open_session
from console.core.spans import DEFAULT_RANGE, RANGES


def register(sub: Any) -> None:
    p = sub.add_parser("metrics", help="print the Overview's KPIs, panels, cost and SLOs")
    p.add_argument("--range", default=DEFAULT_RANGE, choices=list(RANGES), help="time range")
    p.add_argument("--group-by", default="none", choices=list(GROUPINGS), help="chart grouping")
    p.add_argument("--json", action="store_true", help="print JSON (the default is a summary)")
    p.set_defaults(func=run, at_kind="reads")


def run(args: argparse.Namespace) -> int:
    from console.overview.panels import report

    session = open_session(args)
    try:
        data = report(session, RANGES[args.range], args.group_by)
    finally:
        session.close()
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    print(f"last {data['range']} ({data['start']} .. {data['end']})")
    for key, value in data["kpis"].items():
        print(f"  {key:22} {value if value is not None else '-'}")
    for key, panel in data["panels"].items():
        state = panel["error"] or f"{len(panel['series'])} series"
        print(f"  panel {key:16} {state}")
    for s in data["slos"]:
        print(f"  slo {s['route']} {s['objective']} {s['status']}")
    for problem in data["problems"]:
        print(f"  problem: {problem}")
    return 0
