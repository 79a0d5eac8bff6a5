"""What every subcommand needs: the session that its global options name, and
one way to print machine-readable output."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from console.core.config import find, load_config
from console.core.session import Session


def open_session(args: argparse.Namespace) -> Session:
    """The session for ``--config``/``--profile``/``--read-only``/``--at`` (read by
    ``console.cli.check_at``). Raises LlmdeckError."""
    config = load_config(find(args.config))
    profile = config.profile(args.profile)
    return Session(profile, read_only=True if args.read_only else None, at=view_at(args))


def view_at(args: argparse.Namespace) -> datetime | None:
    """The moment ``--at`` pins reads to (None: live)."""
    at = getattr(args, "at", None)
    return at if isinstance(at, datetime) else None


def add_output_args(p: argparse.ArgumentParser, what: str) -> None:
    """``--json`` (one JSON array, so ``| python3 -m json.tool`` and ``jq`` work)
    and ``--jsonl`` (one object per line, for streams and large results)."""
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help=f"print the {what} as one JSON array")
    fmt.add_argument("--jsonl", action="store_true", help=f"print the {what} one JSON per line")


def print_rows(args: argparse.Namespace, rows: Iterable[dict[str, Any]]) -> None:
    """Print ``rows`` as ``--json`` (one array; ``[]`` when empty) or ``--jsonl``."""
    if getattr(args, "jsonl", False):
        for row in rows:
            print(orjson.dumps(row, default=str).decode(), flush=True)
        return
    print(orjson.dumps(list(rows), default=str, option=orjson.OPT_INDENT_2).decode())
