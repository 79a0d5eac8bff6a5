"""``llmdeck silence``: silence alerts in the profile's Alertmanager through the
write pipeline (plan with the alerts it mutes, confirm, re-read, write,
verify, audit); ``llmdeck silences`` lists the silences it keeps.

    llmdeck silence --matcher route=/support/chat --for 2h --reason "v14 rollback under way"
"""

from __future__ import annotations

import argparse
from typing import Any

from console.actions import SilenceAlert
from console.actions.changes import parse_matchers
from console.actions.context import silencer
from console.commands.common import add_output_args, open_session, print_rows
from console.commands.flags import add_write_options, apply
from console.core.errors import LlmdeckError
from console.core.spans import parse_span


def register(sub: Any) -> None:
    p = sub.add_parser(
        "silence", help="silence matching alerts in the profile's Alertmanager (audited)"
    )
    p.add_argument(
        "--matcher",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="label matcher (=, !=, =~, !~); repeat for more, all must match",
    )
    p.add_argument("--for", dest="duration", default="2h", help="how long (30m, 2h, 1d)")
    add_write_options(p)
    p.set_defaults(func=run_silence, context="silence", at_kind="writes")
    ls = sub.add_parser("silences", help="the silences the profile's Alertmanager keeps")
    ls.add_argument("--all", action="store_true", help="expired ones too")
    add_output_args(ls, "silences")
    ls.set_defaults(func=run_list, context="silences")


def run_silence(args: argparse.Namespace) -> int:
    try:
        duration = parse_span(args.duration)
    except ValueError as exc:
        raise LlmdeckError(f"silence: --for: {exc}") from None
    # The operator's reason is the silence's comment: Alertmanager requires one,
    # and whoever finds the alert muted reads it there.
    change = SilenceAlert(parse_matchers(args.matcher), duration, args.reason.strip())
    return apply(args, change)


def run_list(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        silences = silencer(session).silences()
    finally:
        session.close()
    shown = [s for s in silences if args.all or s.state != "expired"]
    shown.sort(key=lambda s: (s.state != "active", s.ends))
    rows = [
        {
            "id": s.id,
            "state": s.state,
            "matchers": [str(m) for m in s.matchers],
            "starts": s.starts.isoformat(),
            "ends": s.ends.isoformat(),
            "created_by": s.created_by,
            "comment": s.comment,
        }
        for s in shown
    ]
    if args.json or args.jsonl:
        print_rows(args, rows)
        return 0
    for r in rows:
        print(
            f"{r['state']:8} {r['id']}  until {r['ends']}  {', '.join(r['matchers'])}"
            f"  by {r['created_by']}: {r['comment']}"
        )
    if not rows:
        print("no silences")
    return 0
