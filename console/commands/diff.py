"""``llmdeck diff NAME@A [NAME@B]``: what changed between two versions or aliases."""

from __future__ import annotations

import argparse
import json
from typing import Any

from console.commands.common import open_session
from console.core.errors import LlmdeckError
from console.core.spans import RANGES, parse
from console.diff import view as dv
from console.diff.compare import as_dict, unified


def register(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="compare two versions or aliases of a prompt (NAME@A NAME@B; "
        "NAME@A alone: against its predecessor)",
    )
    p.add_argument("a", metavar="NAME@A", nargs="?")
    p.add_argument("b", metavar="NAME@B", nargs="?")
    p.add_argument(
        "--flag", metavar="KEY", help="diff the two prompt versions a flag routes between"
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the changes as JSON")
    fmt.add_argument("--unified", action="store_true", help="print a unified diff only")
    p.add_argument("--range", default="24h", choices=list(RANGES), help="traffic window")
    p.set_defaults(func=run, context="diff", at_kind="reads")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def run(args: argparse.Namespace) -> int:
    if bool(args.flag) == bool(args.a):
        raise LlmdeckError("diff: give NAME@A [NAME@B], or --flag KEY")
    ref_b: str | None = None
    if args.a:
        name, ref_a = dv.split_ref(args.a)
        if args.b:
            name_b, ref_b = dv.split_ref(args.b)
            if name_b != name:
                raise LlmdeckError(f"{args.a} and {args.b}: compare two versions of one name")
    session = open_session(args)
    try:
        if args.flag:
            name, ref_a, ref_b = dv.flag_versions(session, args.flag)
        start, end = session.view.window(parse(args.range))
        view = dv.load_diff(session, name, ref_a, ref_b, start, end)
    finally:
        session.close()
    d = view.diff
    if args.unified:
        print(unified(d), end="")
        return 0
    served = {v: vars(view.traffic[v]) for v in (d.a.version, d.b.version) if v in view.traffic}
    if args.json:
        print(json.dumps({**as_dict(d), "traffic": {"range": args.range, **served}}, indent=2,
                         default=str))  # fmt: skip
        return 0
    print(f"{name}: v{d.a.version} -> v{d.b.version}")
    for change in [*d.config, *d.tags, *d.evals]:
        if change.status != "equal":
            print(f"  {change.key}: {change.before!r} -> {change.after!r} ({change.status})")
    for v in (d.a.version, d.b.version):
        t = view.traffic.get(v)
        if t:
            print(f"  v{v} last {args.range}: {t.requests:,} requests, refusals "
                  f"{_pct(t.refusal_rate)}, ${_num(t.cost_per_request, '.5f')}/request, "
                  f"p95 {_num(t.latency_p95_ms, ',.0f')} ms, "
                  f"{_num(t.output_tokens, '.0f')} output tokens")  # fmt: skip
    print(unified(d), end="")
    return 0
