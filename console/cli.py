"""The ``llmdeck`` command line.

Each subcommand lives in ``console/commands/<name>.py`` with a ``register``
function; this module only wires them up and turns every LlmdeckError (the
one base, connector errors included) into one line on stderr and exit code 2
(never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from connectors.errors import ConnectorError
from console.core.errors import LlmdeckError

# Imported on demand by name, so `llmdeck --help` and the start of the console
# pay only for the command that runs.
COMMANDS = (
    "ui",
    "demo",
    "doctor",
    "secrets",
    "registry",
    "diff",
    "overview",  # `llmdeck metrics`: the Overview's figures
    "drift",
    "ingest",
    "requests",
    "flags",
    "rollback",
    "audit",
    "replay",
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llmdeck",
        description="A terminal operator console for AI systems in production.",
    )
    p.add_argument(
        "--config",
        help="config file (default: $LLMDECK_CONFIG, ./llmdeck.yaml, "
        "then the user config directory)",
    )
    p.add_argument("--profile", help="profile to open (default: the file's default_profile)")
    p.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="refuse backend writes, replays and ingest, whatever the profile says "
        "(README: Read-only)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"console.commands.{name}").register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command is None:
        args = p.parse_args([*(argv if argv is not None else sys.argv[1:]), "ui"])
    try:
        return int(args.func(args) or 0)
    except LlmdeckError as exc:
        # A backend's error names the backend and the cause; a command that sets
        # ``context`` adds what it was doing (``registry: MLflow at ...``).
        context = getattr(args, "context", "")
        prefix = f"{context}: " if context and isinstance(exc, ConnectorError) else ""
        print(f"llmdeck: {prefix}{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmdeck: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
