"""``llmdeck audit``: the local audit log merged with the flag backend's events
and the alias history, newest first; filter and export."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from console.actions.plan import fmt_state
from console.audit import trail as audit_log
from console.commands.common import add_output_args, open_session, print_rows
from console.core.errors import LlmdeckError
from console.core.spans import RANGES, parse


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="the audit log with the backends' own change events")
    p.add_argument("--since", choices=list(RANGES), default=None, help="only this recent window")
    p.add_argument("--filter", default="", help="only rows containing every word")
    p.add_argument("--limit", type=int, default=200, help="at most this many rows (default 200)")
    p.add_argument("--export", type=Path, default=None, help="write to FILE.jsonl or FILE.csv")
    add_output_args(p, "rows")
    p.set_defaults(func=run, at_kind="reads")


def run(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        since = session.view.window(parse(args.since))[0] if args.since else None
        rows, problems = audit_log.load(session, since)
    except ValueError as exc:
        raise LlmdeckError(str(exc)) from None
    finally:
        session.close()
    rows = audit_log.matching(rows, args.filter)[: max(args.limit, 0)]
    if args.export:
        n = audit_log.export(rows, args.export)
        print(f"wrote {n} rows to {args.export}")
    elif args.json or args.jsonl:
        print_rows(args, (row.to_dict() for row in rows))
    else:
        for r in rows:
            change = f"{fmt_state(r.before)} -> {fmt_state(r.after)}" if r.after is not None else ""
            print(
                f"{r.ts:%Y-%m-%d %H:%M:%S}  {r.source:8} {r.outcome or '-':9} {r.who or '-':12} "
                f"{r.action:24} {r.target}  {change}  {r.reason}".rstrip()
            )
    for problem in problems:
        print(f"warning: {problem}")
    return 0
