"""``llmdeck requests``, ``llmdeck request ID`` and ``llmdeck policy check ID``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

import orjson

from connectors.base import RequestFilter
from console.commands.common import add_output_args, open_session, print_rows
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.core.tenants import display
from console.core.tenants import names as tenant_names


def register(sub: Any) -> None:
    p = sub.add_parser("requests", help="list logged requests, newest first")
    p.add_argument("--since", help="15m, 2h, 7d or ISO 8601")
    p.add_argument("--until", help="15m, 2h, 7d or ISO 8601")
    p.add_argument("--route", default="")
    p.add_argument("--tenant", default="", help="raw or hashed tenant id")
    p.add_argument("--model", default="")
    p.add_argument("--prompt", default="", help="prompt id")
    p.add_argument("--prompt-version", default="")
    p.add_argument("--status", choices=("ok", "error", "blocked", "timeout"))
    p.add_argument("--refusal", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--blocked", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--text", default="", help="full-text search over messages and output")
    p.add_argument("--sort", default="time", help="time, latency, cost or tokens")
    p.add_argument("--limit", type=int, default=50)
    add_output_args(p, "requests")
    p.set_defaults(func=run_list, at_kind="reads")

    p = sub.add_parser("request", help="show one logged request")
    p.add_argument("request_id", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.add_argument("--curl", metavar="BASE_URL", nargs="?", const="http://127.0.0.1:18080/v1")
    p.set_defaults(func=run_one, at_kind="reads")

    p = sub.add_parser("policy", help="evaluate the profile's policy")
    psub = p.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    c = psub.add_parser("check", help="would the gateway policy allow this logged request?")
    c.add_argument("request_id", metavar="ID")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=run_policy, at_kind="reads")


def filter_from_args(
    args: argparse.Namespace, tenants: dict[str, str] | None = None, now: datetime | None = None
) -> RequestFilter:
    """The RequestFilter that ``requests``' filter options name (``replay-batch`` shares
    them); ``--since 2h`` is before ``now`` (the view time). Raises LlmdeckError for a
    bad value."""
    from console.requests.query import FilterError, apply, fts_query, order, parse_when

    try:
        flt = RequestFilter(
            since=parse_when(args.since, now) if args.since else None,
            until=parse_when(args.until, now) if args.until else None,
            route=args.route,
            model=args.model,
            prompt_id=args.prompt,
            prompt_version=args.prompt_version,
            status=args.status or "",
            refusal=args.refusal,
            blocked=args.blocked,
            text=fts_query(args.text.split()),
            order=order(args.sort),
        )
        if not args.tenant:
            return flt
        return apply(flt, "tenant", args.tenant, tenants)
    except FilterError as exc:
        raise LlmdeckError(str(exc)) from None


def _log(session: Session) -> Any:
    log = session.request_log()
    if log is None:
        raise LlmdeckError(f"profile {session.profile.name!r} configures no request log")
    return log


def run_list(args: argparse.Namespace) -> int:
    from console.requests.query import as_of

    if args.limit <= 0:
        raise LlmdeckError("--limit must be positive")
    session = open_session(args)
    try:
        log = _log(session)
        at = session.view.at
        flt = as_of(filter_from_args(args, tenant_names(session), at), at)
        left, cursor = args.limit, None
        names = tenant_names(session)
        rows: list[dict[str, Any]] = []
        while left > 0:
            page = log.page(flt, limit=min(left, 500), cursor=cursor)
            for rec in page.records:
                if args.jsonl:
                    print(orjson.dumps(rec.to_dict(), default=str).decode())
                elif args.json:
                    rows.append(rec.to_dict())
                else:
                    print(
                        f"{rec.ts:%Y-%m-%d %H:%M:%S}  {rec.request_id:<28} {rec.route:<20} "
                        f"{rec.model_name:<22} v{rec.prompt_version:<4} "
                        f"{display(names, rec.tenant):<14} {rec.status:<7} "
                        f"{rec.latency_ms:>8.0f}ms {rec.tokens_out:>6} ${rec.cost_usd:.5f}"
                        + ("  refusal" if rec.refusal else "")
                    )
            left -= len(page.records)
            cursor = page.next_cursor
            if cursor is None:
                break
        if args.json:
            print_rows(args, rows)
    finally:
        session.close()
    return 0


def _get(session: Session, request_id: str) -> Any:
    return _log(session).get(request_id)


def run_one(args: argparse.Namespace) -> int:
    from console.requests.query import FilterError, as_curl, as_json

    session = open_session(args)
    try:
        rec = _get(session, args.request_id)
        if args.curl:
            try:
                print(as_curl(rec, args.curl))
            except FilterError as exc:
                raise LlmdeckError(str(exc)) from None
        elif args.json:
            print(as_json(rec))
        else:
            from console.requests.detail import text_lines

            print("\n".join(text_lines(rec, tenant_names(session))))
    finally:
        session.close()
    return 0


def run_policy(args: argparse.Namespace) -> int:
    from console.requests.policy import check, lines, verdict

    session = open_session(args)
    try:
        rec = _get(session, args.request_id)
        d = check(session, rec)
    finally:
        session.close()
    if args.json:
        out = {"request_id": rec.request_id, "decision": verdict(d), "denials": list(d.denials)}
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    else:
        print("\n".join(lines(d)))
    return 0 if d.allowed else 1
