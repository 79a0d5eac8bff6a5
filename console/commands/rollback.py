"""``llmdeck rollback ROUTE``: route a route back to its last known good prompt
version (flag weights and aliases, one plan) through the write pipeline."""

from __future__ import annotations

import argparse
from typing import Any

from console.actions import RollbackRoute
from console.commands.flags import add_write_options, apply


def register(sub: Any) -> None:
    p = sub.add_parser("rollback", help="route a route back to its last known good prompt version")
    p.add_argument("route", help="the route, for example /support/chat")
    add_write_options(p)
    p.set_defaults(func=run, at_kind="writes")


def run(args: argparse.Namespace) -> int:
    return apply(args, RollbackRoute(args.route))
