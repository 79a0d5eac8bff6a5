"""``llmdeck flags list|set``: flag states, and flips or variant weights
through the write pipeline (``--reason``; ``--confirm NAME`` in production)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from console.actions import Confirmation, Pipeline, Plan, SetEnabled, SetWeights
from console.actions.breakglass import leave_read_only
from console.actions.changes import Change, parse_weights
from console.actions.pipeline import ActionError
from console.actions.plan import fmt_state
from console.commands.common import open_session
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.flags import rows as flag_view
from console.flags.rows import FlagRow

STATES = {"on": True, "off": False, "enable": True, "disable": False, "trip": True, "reset": False}


def register(sub: Any) -> None:
    p = sub.add_parser("flags", help="list flags and kill switches; flip one or set its weights")
    fsub = p.add_subparsers(dest="flags_command", metavar="ACTION", required=True)
    ls = fsub.add_parser("list", help="every flag with its state per environment")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list, context="flags", at_kind="reads")
    st = fsub.add_parser("set", help="turn a flag on or off, or set its variant weights")
    st.add_argument("flag")
    st.add_argument("state", nargs="?", choices=sorted(STATES), help="on/off (trip/reset)")
    st.add_argument(
        "--variant", action="append", default=[], metavar="V=W", help="variant weight, percent"
    )
    add_write_options(st)
    st.set_defaults(func=run_set, context="flags set", at_kind="writes")


def add_write_options(p: argparse.ArgumentParser) -> None:
    """The options every write command shares."""
    p.add_argument("--reason", default="", help="why (required in production)")
    p.add_argument("--confirm", default="", metavar="NAME", help="production: the target or env")
    p.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    p.add_argument(
        "--break-glass",
        default="",
        metavar="REASON",
        help="leave the profile's read-only mode for this command (audited)",
    )


def flag_rows(rows: list[FlagRow], at: datetime | None = None) -> list[dict[str, Any]]:
    """The JSON of ``flags list``, from the Flags screen's rows so both show the
    same last change (the backend's, else the store's history and audit). Pinned
    (``at``), ``state_at`` is the state shown for that moment: the one the store
    recorded last before it (``recorded_at``), else the backend's now (null)."""
    out = []
    for row in rows:
        f = row.flag
        pinned = {}
        if at is not None:
            pinned["state_at"] = {
                "at": at.isoformat(),
                "enabled": row.enabled,
                "weights": row.weights,
                "recorded_at": row.recorded_at.isoformat() if row.recorded_at else None,
            }
        out.append(
            pinned
            | {
                "key": f.key,
                "kind": f.kind,
                "environments": {
                    e.environment: {
                        "enabled": e.enabled,
                        "weights": {v.name: v.weight for v in e.variants},
                        "strategies": list(e.strategies),
                    }
                    for e in f.environments
                },
                "last_changed": row.last_change.isoformat() if row.last_change else None,
                "last_changed_by": row.last_by,
                "description": f.description,
            }
        )
    return out


def run_list(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        at = session.view.at
        found = flag_view.load(session)
        rows = flag_rows(found, at)
    finally:
        session.close()
    if args.json:
        print(json.dumps({"flags": rows}, indent=2))
        return 0
    width = max((len(r["key"]) for r in rows), default=4)
    for r, row in zip(rows, found, strict=True):
        states = "  ".join(f"{env}:{fmt_state(state)}" for env, state in r["environments"].items())
        if at is not None:
            when = "no record: now"
            if row.recorded_at:
                when = f"recorded {row.recorded_at:%m-%d %H:%M}"
            on = {True: "on", False: "off", None: "-"}[row.enabled]
            states = f"at {at:%Y-%m-%d %H:%M}: {on} {row.weights} ({when})".replace("  ", " ")
        print(f"{r['kind']:12} {r['key'].ljust(width)}  {states}")
    return 0


def print_plan(plan: Plan) -> None:
    print(f"plan: {plan.title} [{plan.environment}{', PRODUCTION' if plan.production else ''}]")
    for step in plan.steps:
        print(f"  {step.describe()}")
    print(f"  blast radius: {plan.blast.describe()}")
    for note in plan.notes:
        print(f"  note: {note}")


def apply(args: argparse.Namespace, change: Change) -> int:
    """Plan ``change``, print the plan, and (unless --dry-run) execute it with the
    confirmation the options give. Raises LlmdeckError for anything but done."""
    session: Session = open_session(args)
    try:
        if args.break_glass and not args.dry_run:
            # With --read-only this is refused, and audited as such.
            glass = leave_read_only(session, args.break_glass)
            if glass.status != "done":
                raise ActionError(glass)
        pipeline = Pipeline(session)
        if session.read_only and not args.dry_run:
            outcome = pipeline.run(change, lambda p: Confirmation(False), reason=args.reason)
            raise ActionError(outcome)
        plan = pipeline.plan(change, dry_run=args.dry_run)
        print_plan(plan)
        if args.dry_run:
            print("dry run: nothing written")
            return 0
        outcome = pipeline.execute(plan, Confirmation(True, reason=args.reason, typed=args.confirm))
        if not outcome.ok:
            raise ActionError(outcome)
        print(f"{outcome.status}: {outcome.message} (audit #{outcome.audit_id})")
        return 0
    finally:
        session.close()


def run_set(args: argparse.Namespace) -> int:
    if args.state and args.variant:
        raise LlmdeckError("flags set: give a state or --variant weights, not both")
    if not args.state and not args.variant:
        raise LlmdeckError("flags set: give a state (on/off) or --variant V=W ...")
    change: Change = (
        SetEnabled(args.flag, STATES[args.state])
        if args.state
        else SetWeights(args.flag, parse_weights(args.variant))
    )
    return apply(args, change)
