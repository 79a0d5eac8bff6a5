"""``llmdeck incident``: open, note, close, list, show and export incidents.

    llmdeck incident open --title T --severity sev1..sev4     # prints the id
    llmdeck incident note ID TEXT
    llmdeck incident close ID
    llmdeck incident list [--json | --jsonl]
    llmdeck incident show ID [--lead-in 1h]                   # summary and timeline
    llmdeck incident export ID --format md|json [-o FILE] [--lead-in 1h]

``ID`` is ``3`` or ``INC-3``. Opening, noting and closing write the workspace
store (and its audit log), so ``--read-only`` refuses them; a read-only
profile allows them (``console/incident/record.py`` says why).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from console.commands.common import add_output_args, open_session, print_rows
from console.core.errors import LlmdeckError
from console.core.spans import parse_span
from console.incident import record
from console.incident.timeline import DEFAULT_LEAD_IN


def _lead_in(args: argparse.Namespace) -> timedelta:
    """``--lead-in``; a bad value is one clear line (LlmdeckError), as every other error."""
    if args.lead_in is None:
        return DEFAULT_LEAD_IN
    try:
        return parse_span(args.lead_in)
    except ValueError as exc:
        raise LlmdeckError(f"--lead-in: {exc}") from None


def register(sub: Any) -> None:
    p = sub.add_parser("incident", help="open, note, close, show and export incidents")
    isub = p.add_subparsers(dest="incident_command", metavar="ACTION", required=True)

    op = isub.add_parser("open", help="open an incident; prints its id")
    op.add_argument("--title", required=True)
    op.add_argument("--severity", required=True, help=", ".join(record.SEVERITIES))
    op.set_defaults(func=run_open, at_kind="writes")

    note = isub.add_parser("note", help="add a note to an open incident")
    note.add_argument("id", metavar="ID")
    note.add_argument("text", nargs="+", metavar="TEXT")
    note.set_defaults(func=run_note, at_kind="writes")

    close = isub.add_parser("close", help="close an incident")
    close.add_argument("id", metavar="ID")
    close.set_defaults(func=run_close, at_kind="writes")

    ls = isub.add_parser("list", help="every incident, newest first")
    add_output_args(ls, "incidents")
    ls.set_defaults(func=run_list)

    lead = f"how far before the opening the timeline starts (default {_span(DEFAULT_LEAD_IN)})"
    show = isub.add_parser("show", help="an incident's summary and timeline")
    show.add_argument("id", metavar="ID")
    show.add_argument("--lead-in", default=None, metavar="SPAN", help=lead)
    show.set_defaults(func=run_show)

    ex = isub.add_parser("export", help="the postmortem draft as Markdown or JSON")
    ex.add_argument("id", metavar="ID")
    ex.add_argument("--format", choices=("md", "json"), default="md")
    ex.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE")
    ex.add_argument("--lead-in", default=None, metavar="SPAN", help=lead)
    ex.set_defaults(func=run_export)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


def run_open(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        incident = record.open_incident(session, args.title, args.severity)
    finally:
        session.close()
    print(incident.id)
    return 0


def run_note(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        note = record.add_note(session, record.parse_id(args.id), " ".join(args.text))
    finally:
        session.close()
    print(f"note {note.id} added to INC-{note.incident_id}")
    return 0


def run_close(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        incident = record.close(session, record.parse_id(args.id))
    finally:
        session.close()
    print(f"{incident.label} closed")
    return 0


def run_list(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        incidents = record.listing(session.store())
    finally:
        session.close()
    if args.json or args.jsonl:
        print_rows(args, (i.to_dict() for i in incidents))
        return 0
    for i in incidents:
        closed = f"closed {i.closed:%Y-%m-%d %H:%M}" if i.closed else "open"
        print(
            f"{i.label:8} {i.severity:5} {i.opened:%Y-%m-%d %H:%M}  {closed:22} "
            f"{i.who or '-':12} {i.title}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from console.incident import export

    incident_id, lead_in = record.parse_id(args.id), _lead_in(args)
    session = open_session(args)
    try:
        pm = export.collect(session, record.get(session.store(), incident_id), lead_in=lead_in)
    finally:
        session.close()
    inc, f = pm.incident, pm.impact
    closed = f"closed {inc.closed:%Y-%m-%d %H:%M:%S} UTC" if inc.closed else "open"
    print(f"{inc.label} {inc.severity} {closed}: {inc.title}")
    print(f"opened {inc.opened:%Y-%m-%d %H:%M:%S} UTC by {inc.who or '?'} · profile {inc.profile}")
    rate = "-" if f.refusal_rate is None else f"{f.refusal_rate:.1%}"
    print(
        f"impact on {pm.impact_label}: {f.requests:,} requests, {f.refusals:,} refused ({rate}), "
        f"{f.errors:,} errors, ${f.cost_usd:,.2f}; tenants affected: "
        + (", ".join(f.tenants) or "none")
    )
    print()
    for e in pm.timeline.entries:
        what = e.body if e.kind == "note" else e.title
        print(f"{e.ts:%Y-%m-%d %H:%M:%S}  {e.kind:8} {e.who or '-':12} {' '.join(what.split())}")
    for problem in dict.fromkeys((*pm.timeline.problems, *pm.problems)):
        print(f"warning: {problem}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from console.incident import export

    incident_id, lead_in = record.parse_id(args.id), _lead_in(args)
    session = open_session(args)
    try:
        pm = export.collect(session, record.get(session.store(), incident_id), lead_in=lead_in)
    finally:
        session.close()
    text = export.render(pm, args.format)
    if args.output is None:
        print(text, end="")
        return 0
    if args.output.is_dir():
        raise LlmdeckError(f"{args.output}: is a directory; name the file to write")
    export.write(text, args.output)
    print(f"wrote {pm.incident.label} ({args.format}) to {args.output}")
    return 0
