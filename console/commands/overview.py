"""``llmdeck metrics``: the Overview's figures for scripts and cron alerts.

It prints every KPI and panel it can read. One whose read failed or whose data
stopped is printed with its reason ("no data since 03:10", "backend error: ...")
and the others still print; the exit code then says the output is partial.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from connectors.base import GROUPINGS
from console.commands.common import open_session
from console.core.spans import DEFAULT_RANGE, RANGES

# 0: everything read; 2 (console/cli.py): nothing could be read at all, one line
# on stderr, as every command; 3: printed, but some KPIs or panels could not be
# read or have no data (each says why; --json: "status": "partial"). Distinct
# from 1, which doctor and replay-batch use for "checked, and something failed".
EXIT_PARTIAL = 3

EPILOG = """\
exit status:
  0  every KPI and panel was read and has data
  2  nothing could be read (no metrics source, the backend is down, a bad config)
  3  partial: some KPIs or panels could not be read or have no data ("no data
     since 03:10", "backend error: ..."); the rest is printed, and each problem
     is listed (--json: "status": "partial", a status and problem per panel)
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "metrics",
        help="print the Overview's KPIs, panels, cost and SLOs",
        description="Print the Overview's KPIs, panels, cost, budgets and SLOs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    code = EXIT_PARTIAL if data["status"] == "partial" else 0
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return code
    print(f"last {data['range']} ({data['start']} .. {data['end']})")
    status = data["kpi_status"]
    for key, value in data["kpis"].items():
        problem = status.get(key, {}).get("problem")
        shown = problem or (value if value is not None else "-")
        print(f"  {key:22} {shown}")
    if not data["kpis"]:
        first: dict[str, Any] = next(iter(status.values()), {})
        print(f"  kpis                   {first.get('problem') or 'not read'}")
    for key, panel in data["panels"].items():
        state = panel["problem"] or f"{len(panel['series'])} series"
        print(f"  panel {key:16} {state}")
    for alert in data["absent"]:
        print(f"  absent ({alert['severity']}) {alert['title']}")
    for s in data["slos"]:
        print(f"  slo {s['route']} {s['objective']} {s['status']}")
    for problem in data["problems"]:
        if problem not in data["partial"]:  # those are on their KPI or panel line above
            print(f"  problem: {problem}")
    return code
