"""``llmdeck slo rules``: Prometheus recording and alerting rules for the
profile's behaviour SLOs, in its metric naming scheme (``console.alerts.prom_rules``).

The file goes to stdout or ``-o FILE``; every objective or window that gets
no rule is a comment in the file and a line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from connectors.metrics.promql_schemes import SCHEMES
from connectors.support.atomic import write_atomic
from console.alerts import prom_rules
from console.commands.common import open_session
from console.core.errors import ConfigError, LlmdeckError


def register(sub: Any) -> None:
    p = sub.add_parser("slo", help="the profile's SLOs as Prometheus rules")
    ssub = p.add_subparsers(dest="slo_command", metavar="ACTION", required=True)
    rules = ssub.add_parser(
        "rules",
        help="print Prometheus recording and burn-rate alerting rules for the profile's SLOs",
    )
    rules.add_argument("-o", "--output", metavar="FILE", help="write the rule file here")
    rules.add_argument(
        "--scheme",
        choices=sorted(SCHEMES),
        help="metric naming scheme (default: the profile's metrics connector's)",
    )
    rules.set_defaults(func=run_rules, context="slo rules")


def run_rules(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        profile = session.profile
        try:
            ruleset = prom_rules.for_profile(profile, args.scheme)
        except ValueError as exc:
            raise ConfigError(f"{profile.source or 'profile ' + profile.name}: {exc}") from None
    finally:
        session.close()
    for line in ruleset.skipped:
        print(f"llmdeck: slo rules: skipped {line}", file=sys.stderr)
    if not ruleset.groups:
        print(
            "llmdeck: slo rules: no rule written (no objective could be measured)", file=sys.stderr
        )
    if not args.output:
        sys.stdout.write(ruleset.text)
        return 0
    path = Path(args.output)
    try:
        # Prometheus runs as its own user: a new rule file must be readable by it.
        write_atomic(path, ruleset.text, mode=None if path.exists() else 0o644)
    except OSError as exc:
        raise LlmdeckError(f"{path}: cannot write the rule file: {exc.strerror}") from None
    print(f"wrote {ruleset.rule_count} rules in {len(ruleset.groups)} groups to {path}")
    return 0
