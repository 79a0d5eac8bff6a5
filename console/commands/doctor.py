"""``llmdeck doctor``: does every configured backend answer?

``llmdeck doctor --options`` lists every connector kind's declared options
instead (no profile needed); ``--markdown`` prints the README's table, which a
test keeps equal to the declarations.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from typing import Any

from connectors import discovery, options
from connectors.records import BackendStatus
from connectors.support.redact import scrub
from console.commands.common import open_session
from console.core.errors import LlmdeckError


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check every configured backend and print what works")
    p.add_argument(
        "--options", action="store_true", help="list every connector kind's options and exit"
    )
    p.add_argument("--markdown", action="store_true", help="with --options: as a Markdown table")
    p.set_defaults(func=run)


def option_rows(names: Iterable[str] | None = None) -> list[tuple[str, str, str, str, str]]:
    """(capability.kind, option, type, default, doc) for ``names`` (every known
    connector kind by default).

    A kind whose module cannot be imported here gets one row saying so.
    """
    rows = []
    for name in sorted(discovery.available() if names is None else names):
        cap, _, kind = name.partition(".")
        try:
            declared = options.declared(discovery.load(cap, kind))
        except (KeyError, ImportError) as exc:
            rows.append((name, "", "", "", f"unavailable: {exc}"))
            continue
        if declared is None:
            rows.append((name, "", "", "", "options not declared"))
            continue
        for o in declared:
            typ = "secret" if o.secret else o.type_name  # written {keyring:} or {env:}
            rows.append((name, o.name, typ, o.describe_default(), o.doc))
    return rows


def options_markdown() -> str:
    """The README's table: the built-in kinds' declared options (installed
    third-party connectors would make it depend on the machine)."""
    lines = ["| connector | option | type | default | meaning |", "|---|---|---|---|---|"]
    lines += [
        f"| `{kind}` | `{opt}` | {typ} | {default} | {doc} |"
        for kind, opt, typ, default, doc in option_rows(discovery.BUILTIN)
    ]
    return "\n".join(lines) + "\n"


def print_options(markdown: bool) -> int:
    if markdown:
        print(options_markdown(), end="")
        return 0
    rows = option_rows()
    head = ("connector", "option", "type", "default", "meaning")
    widths = [max(len(r[i]) for r in [*rows, head]) for i in range(4)]
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    return 0


def check(session: Any, spec: Any) -> tuple[BackendStatus, float]:
    started = time.perf_counter()
    try:
        connector = session.build(spec)
        status = connector.ping()
        connector.close()
    except LlmdeckError as exc:
        status = BackendStatus(ok=False, detail=str(exc))
    except Exception as exc:  # a bug in one connector must not hide the others' rows
        status = BackendStatus(ok=False, detail=f"{type(exc).__name__}: {scrub(str(exc))}")
    return status, (time.perf_counter() - started) * 1000


def run(args: argparse.Namespace) -> int:
    if args.options:
        return print_options(args.markdown)
    session = open_session(args)
    p = session.profile
    mode = "read-only" if session.read_only else "read-write"
    print(f"profile {p.name} ({p.environment}, {mode}) from {p.source}")
    rows = []
    ok = True
    specs = [
        (cap, p.connectors.get(cap))
        for cap in discovery.CAPABILITIES
        if cap not in ("replay", "alerting")
    ]
    specs += [(f"replay:{name}", spec) for name, spec in p.replay_targets.items()]
    specs += [(f"alerting:{i}", spec) for i, spec in enumerate(p.alerting)] or [("alerting", None)]
    for label, spec in specs:
        if spec is None:
            rows.append((label, "-", "missing", "", "", "not configured"))
            continue
        status, took = check(session, spec)
        ok &= status.ok
        rtt = status.rtt_ms if status.rtt_ms is not None else took
        rows.append(
            (
                label,
                spec.kind,
                "ok" if status.ok else "FAILED",
                status.version,
                f"{rtt:.0f} ms",
                status.detail,
            )
        )
    widths = [max(len(str(r[i])) for r in [*rows, _HEAD]) for i in range(5)]
    for row in [_HEAD, *rows]:
        print(
            "  ".join(str(c).ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
        )
    return 0 if ok else 1


_HEAD = ("capability", "connector", "status", "version", "rtt", "detail")
