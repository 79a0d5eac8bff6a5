"""``llmdeck alerts``: what is firing, pending and recently resolved, and why;
exits 1 while any page-level alert fires (for cron and scripts).
``alerts ack KEY`` and ``alerts silence KEY --for 1h`` go through the write
pipeline like every other change."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from console.actions.changes import AckAlert, Change, MuteAlert
from console.alerts.board import current
from console.alerts.engine import Board
from console.alerts.model import Alert
from console.commands.common import add_output_args, open_session, print_rows
from console.commands.flags import add_write_options, apply
from console.core import clock
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.core.spans import parse_span

EXIT_PAGE = 1


def register(sub: Any) -> None:
    p = sub.add_parser(
        "alerts",
        help="firing, pending and recent alerts (exit 1 while a page fires)",
        description="Alerts from the profile's SLOs and budgets (multi-window burn rates), "
        "the drift report and absent data. Exit status: 0 when no page-level alert fires, "
        "1 while one does.",
    )
    add_output_args(p, "alerts")
    p.add_argument("--all", action="store_true", help="include resolved and silenced alerts")
    p.set_defaults(func=run_list, context="alerts", at_kind="reads")
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    ack = asub.add_parser("ack", help="acknowledge an alert (audited)")
    ack.add_argument("key", help="the alert's key (or a unique part of it)")
    add_write_options(ack)
    ack.set_defaults(func=run_ack, context="alerts ack", at_kind="writes")
    sil = asub.add_parser("silence", help="silence an alert for a while (audited)")
    sil.add_argument("key", help="the alert's key (or a unique part of it)")
    sil.add_argument("--for", dest="duration", default="1h", help="how long (default 1h)")
    add_write_options(sil)
    sil.set_defaults(func=run_silence, context="alerts silence", at_kind="writes")


def _line(a: Alert) -> str:
    onset = f"since {a.onset:%H:%M}" if a.onset else ""
    if a.state == "resolved" and a.ended:
        onset = f"{a.onset:%H:%M}-{a.ended:%H:%M}" if a.onset else f"until {a.ended:%H:%M}"
    marks = []
    if a.acked_by:
        marks.append(f"acked by {a.acked_by}")
    if a.silenced_until:
        marks.append(f"silenced until {a.silenced_until:%H:%M}")
    if a.stale:
        marks.append(f"stale: {a.stale}")
    tail = f"  [{'; '.join(marks)}]" if marks else ""
    return f"{a.state:9} {a.severity:6} {onset:13} {a.title}  ({a.detail}){tail}"


def run_list(args: argparse.Namespace) -> int:
    if getattr(args, "alerts_command", None):
        return 0
    session = open_session(args)
    try:
        # Pinned (--at): the alerts of then, judged from the data; nothing is
        # recorded and the team's own alerting (which answers for now) is left out.
        board = current(session, session.view.at, drift="fresh")
        return _print(args, session, board)
    finally:
        session.close()


def _suspects(session: Session, alert: Alert) -> list[dict[str, Any]]:
    """The alert's suspects, best first ([] for kinds that have none)."""
    if alert.kind not in ("slo", "budget"):
        return []
    from console.alerts import suspects

    try:
        return [s.to_dict() for s in suspects.rank(session, alert)]
    except (LlmdeckError, ValueError) as exc:
        return [{"evidence": f"suspects unavailable: {exc}"}]


def _print(args: argparse.Namespace, session: Session, board: Board) -> int:
    shown = [
        a for a in board.alerts if args.all or (a.state != "resolved" and not a.silenced(board.at))
    ]
    suspects = {a.key: _suspects(session, a) for a in shown if a.state == "firing"}
    if args.json or args.jsonl:
        print_rows(args, ({**a.to_dict(), "suspects": suspects.get(a.key, [])} for a in shown))
    else:
        if not shown:
            print("no alerts firing")
        for a in shown:
            print(_line(a))
            for s in suspects.get(a.key, [])[:3]:
                print(f"          suspect: {s['evidence']}")
        for line in board.unmeasured:
            print(f"not measured: {line}")
    for problem in board.problems:
        print(f"warning: {problem}", flush=True)
    return EXIT_PAGE if board.pages() else 0


def _resolve(args: argparse.Namespace, key: str) -> str:
    """The full key of the one recorded alert ``key`` names (whole or a unique part)."""
    session = open_session(args)
    try:
        board = current(session, drift="off")
    finally:
        session.close()
    keys = [a.key for a in board.alerts]
    if key in keys:
        return key
    hits = [k for k in keys if key in k]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise LlmdeckError(f"no alert matches {key!r} (llmdeck alerts --all --json lists them)")
    raise LlmdeckError(f"{key!r} matches {len(hits)} alerts; give more of the key")


def run_ack(args: argparse.Namespace) -> int:
    session = open_session(args)
    who = session.user
    session.close()
    change: Change = AckAlert(_resolve(args, args.key), who)
    return apply(args, change)


def run_silence(args: argparse.Namespace) -> int:
    try:
        span: timedelta = parse_span(args.duration)
    except ValueError as exc:
        raise LlmdeckError(f"--for: {exc}") from None
    until = (clock.now() + span).replace(microsecond=0).isoformat()
    return apply(args, MuteAlert(_resolve(args, args.key), until))
