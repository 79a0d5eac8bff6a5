"""``llmdeck registry list|show``: prompts and models, versions, aliases, lineage."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from connectors.records import PromptVersion
from console.commands.common import open_session
from console.core.spans import RANGES, parse
from console.registry import view as rv


def register(sub: Any) -> None:
    p = sub.add_parser("registry", help="list prompts and models, show versions and aliases")
    rsub = p.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    ls = rsub.add_parser("list", help="every prompt and model with its aliases")
    ls.add_argument("--kind", choices=("prompt", "model", "all"), default="all")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list, context="registry", at_kind="reads")
    show = rsub.add_parser("show", help="versions, alias history and lineage of one name")
    show.add_argument("name")
    show.add_argument("--range", default="24h", choices=list(RANGES), help="lineage window")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_show, context="registry", at_kind="reads")


def _when(ts: datetime | None) -> str | None:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


def run_list(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        listing = rv.load_listing(session)
    finally:
        session.close()
    entries = [e for e in [*listing.prompts, *listing.models] if args.kind in ("all", e.kind)]
    if args.json:
        rows = [
            {"name": e.name, "kind": e.kind, "latest": e.latest, "aliases": dict(e.aliases),
             "updated": _when(e.updated), "description": e.description}
            for e in entries
        ]  # fmt: skip
        as_of = _when(listing.as_of)
        print(json.dumps({"entries": rows, "errors": listing.errors, "as_of": as_of}, indent=2))
        return 0
    width = max((len(e.name) for e in entries), default=4)
    for e in entries:
        aliases = " ".join(f"{a}->{v}" for a, v in sorted(e.aliases.items()))
        print(f"{e.name.ljust(width)}  {e.kind:6}  latest {e.latest or '-':>4}  {aliases}")
    if listing.as_of:
        print(f"aliases as the workspace recorded them before {listing.as_of:%Y-%m-%d %H:%M} UTC")
    for problem in listing.errors:
        print(f"warning: {problem}")
    return 0


def version_dict(v: PromptVersion) -> dict[str, Any]:
    """A version as JSON-ready data."""
    return {
        "version": v.version, "kind": v.kind, "created_at": _when(v.created_at),
        "author": v.author, "description": v.description, "aliases": list(v.aliases),
        "template": v.template, "messages": [dict(m) for m in v.messages],
        "model_config": dict(v.model_config), "tags": dict(v.tags), "source": v.source,
    }  # fmt: skip


def run_show(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        registry = session.need_registry()
        versions = registry.versions(args.name)
        start, end = session.view.window(parse(args.range))
        history: list[rv.AliasMove] = []
        lineage: list[rv.LineageRow] = []
        if session.profile.workspace is None:
            versions = rv.versions_as_of(versions, session.view.at)
        else:
            conn = session.store()
            versions = rv.versions_as_of(versions, session.view.at, conn)
            history = rv.alias_history(conn, args.name, session.view.at)
            lineage = rv.lineage(conn, args.name, [v.version for v in versions], start, end)
        errors = registry.problems()
    finally:
        session.close()
    if args.json:
        print(json.dumps({
            "name": args.name,
            "versions": [version_dict(v) for v in versions],
            "alias_history": [
                {"ts": _when(m.ts), "alias": m.alias, "before": m.before, "after": m.after}
                for m in history
            ],
            "lineage": {"range": args.range, "rows": [vars(r) for r in lineage]},
            "errors": errors,
        }, indent=2))  # fmt: skip
        return 0
    print(f"{args.name}: {len(versions)} versions")
    for v in versions:
        aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
        when = v.created_at.strftime("%Y-%m-%d %H:%M") if v.created_at else "-"
        print(f"  v{v.version:<4} {when}  {v.author or '-':10} {v.description}{aliases}")
    if history:
        print("alias history:")
        for m in history:
            print(f"  {m.ts:%Y-%m-%d %H:%M}  {m.alias}: {m.before or '-'} -> {m.after or '-'}")
    if lineage:
        print(f"lineage (last {args.range}):")
        for r in lineage:
            print(f"  v{r.prompt_version:<4} {r.model_name} {r.model_digest} "
                  f"index={r.index_snapshot or '-'} policy={r.policy_version or '-'} "
                  f"{r.requests:,} requests")  # fmt: skip
    for problem in errors:
        print(f"warning: {problem}")
    return 0
