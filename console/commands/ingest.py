"""``llmdeck ingest SOURCE... [--follow]``: load logs into the workspace store."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any

import orjson

from console.commands.common import open_session


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ingest",
        help="load request logs (JSONL, OTLP/JSON, LiteLLM) into the workspace",
        description=(
            "Read each SOURCE into the workspace store: files or globs of seed-schema JSONL "
            "(.gz too) or OTLP/JSON trace exports, or litellm:URL for a LiteLLM proxy's "
            "/spend/logs/v2. Running it again adds only what is new; an interrupted run "
            "resumes where it stopped. Malformed input is reported with line numbers."
        ),
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--follow", "-f", action="store_true", help="keep reading appended lines")
    p.add_argument(
        "--format", choices=("auto", "jsonl", "otlp"), default="auto", help="file format"
    )
    p.add_argument("--since", help="LiteLLM: window start (15m, 2h, 7d or ISO; default 24h)")
    p.add_argument("--until", help="LiteLLM: window end (default now)")
    p.add_argument(
        "--api-key-env",
        default="LITELLM_API_KEY",
        help="LiteLLM: environment variable holding the key (default LITELLM_API_KEY)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run, at_kind="writes")


class _Bar:
    """A one-line progress bar on stderr (only when it is a terminal)."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, report: Any) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.2:
            return
        self._last = now
        width = 30
        frac = min(1.0, report.bytes_done / report.bytes_total) if report.bytes_total else 0.0
        filled = int(width * frac)
        sys.stderr.write(
            f"\r  ingest [{'#' * filled}{'.' * (width - filled)}] {frac:4.0%} "
            f"{report.added:,} added, {report.duplicates.count:,} duplicates, "
            f"{report.bad:,} malformed "
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    from console.core.errors import LlmdeckError
    from console.core.readonly import check_local
    from console.ingest.runner import IngestReport, expand, ingest
    from console.requests.query import FilterError, parse_when

    session = open_session(args)
    check_local(session, "ingest")  # before the store is even created
    conn = session.store()
    try:
        since = parse_when(args.since) if args.since else None
        until = parse_when(args.until) if args.until else None
    except FilterError as exc:
        raise LlmdeckError(str(exc)) from None
    sources, missing = expand(args.sources, args.format)
    report = IngestReport()
    for problem in missing:
        report.problem(problem)
    stop = threading.Event()
    bar = _Bar()
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum: int, frame: Any) -> None:
        stop.set()  # finish the batch in hand, write its progress, then report

    if args.follow:
        signal.signal(signal.SIGINT, interrupt)
        print("llmdeck: following; ctrl+c stops", file=sys.stderr)
    try:
        ingest(
            conn,
            sources,
            report=report,
            follow=args.follow,
            stop=stop,
            on_progress=bar,
            litellm_key=os.environ.get(args.api_key_env, ""),
            since=since,
            until=until,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.done()
        session.close()
    if args.json:
        print(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print("\n".join(report.summary()))
    return 0 if sources else 2
