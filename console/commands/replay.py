"""``llmdeck replay``, ``llmdeck replay-batch`` and ``llmdeck replays``.

    llmdeck replay ID [ID ...] [--target T] [--prompt-version V] [--model M]
                   [--repeat N] [--seed S] [--json]
    llmdeck replay-batch <the filters of `llmdeck requests`> [--with-version V]
                   [--with-model M] [--target T] [--repeat N] [--concurrency C]
                   [--budget USD] [--export FILE --format golden|promptfoo] [--json]
    llmdeck replays [BATCH] [--compare OTHER] [--export FILE --format F] [--json]

In ``replay-batch`` the filters keep the names they have in ``llmdeck
requests`` (``--model``, ``--prompt-version`` select logged requests), so the
overrides are ``--with-version`` and ``--with-model``. Exit status: 0 when
every replay got an answer, 1 when any failed or could not be replayed, 2 on
a refusal or bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from connectors.errors import ConnectorError
from connectors.records import ReplayResult, RequestRecord
from console.commands.common import add_output_args, open_session, print_rows
from console.core.errors import LlmdeckError
from console.core.session import Session

ANSWERED = ("identical", "similar", "different")


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay logged requests against a target")
    p.add_argument("request_ids", metavar="ID", nargs="+")
    _overrides(p, "--prompt-version", "--model")
    p.add_argument("--seed", type=int, default=None, help="replace the logged seed")
    add_output_args(p, "replays")
    p.set_defaults(func=run_replay, at_kind="writes")

    p = sub.add_parser("replay-batch", help="replay the requests a filter selects")
    p.add_argument("--since", help="15m, 2h, 7d or ISO 8601")
    p.add_argument("--until", help="15m, 2h, 7d or ISO 8601")
    p.add_argument("--route", default="")
    p.add_argument("--tenant", default="", help="raw or hashed tenant id")
    p.add_argument("--model", default="", help="logged model (filter)")
    p.add_argument("--prompt", default="", help="prompt id")
    p.add_argument("--prompt-version", default="", help="logged prompt version (filter)")
    p.add_argument("--status", choices=("ok", "error", "blocked", "timeout"))
    p.add_argument("--refusal", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--blocked", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--text", default="", help="full-text search over messages and output")
    p.add_argument("--sort", default="time", help="time, latency, cost or tokens")
    p.add_argument("--limit", type=int, default=50, help="at most this many requests")
    _overrides(p, "--with-version", "--with-model")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--budget", type=float, default=None, help="per-batch budget in dollars")
    _export_args(p)
    add_output_args(p, "replays")
    p.set_defaults(func=run_batch, at_kind="writes")

    p = sub.add_parser("replays", help="list stored replay batches, show or export one")
    p.add_argument("batch", nargs="?", help="batch id ('' lists batches; 'single' = one-offs)")
    p.add_argument("--compare", metavar="BATCH", help="compare with another batch")
    _export_args(p)
    add_output_args(p, "batches or replays")
    p.set_defaults(func=run_replays, at_kind="reads")


def _overrides(p: argparse.ArgumentParser, version_flag: str, model_flag: str) -> None:
    p.add_argument("--target", default="", help="replay target (default: the profile's first)")
    p.add_argument(
        version_flag,
        dest="with_version",
        default="",
        metavar="V",
        help="re-render the logged variables with this prompt version or alias",
    )
    p.add_argument(
        model_flag,
        dest="with_model",
        default="",
        metavar="M",
        help="send to this model (default: the target's, else the logged one)",
    )
    p.add_argument("--repeat", type=int, default=1, help="send each request N times")


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--export", type=Path, metavar="FILE", help="write the replays to FILE")
    p.add_argument("--format", choices=("golden", "promptfoo"), default="golden")


def _options(args: argparse.Namespace, **extra: Any) -> Any:
    from console.replay.engine import ReplayOptions

    return ReplayOptions(
        target=args.target,
        prompt_version=args.with_version,
        model=args.with_model,
        repeat=args.repeat,
        **extra,
    )


def result_dict(result: ReplayResult, record: RequestRecord | None) -> dict[str, Any]:
    """A replay result as JSON-ready data, with the logged output and the notes."""
    from console.replay import fidelity

    out = asdict(result)
    out["ts"] = result.ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    out["request"] = dict(result.request)
    if record is not None:
        out["logged_output"] = record.output
        out["logged_system_fingerprint"] = record.system_fingerprint
        out["notes"] = fidelity.notes(
            result.verdict,
            record.system_fingerprint,
            result.system_fingerprint,
            record.model_name,
            str(result.request.get("model") or ""),
            result.distinct_outputs,
            int(result.request.get("repeat") or 1),
        )
    return out


def _text(result: ReplayResult, record: RequestRecord | None) -> str:
    d = result_dict(result, record)
    score = "" if result.similarity is None else f" (similarity {result.similarity:.2f})"
    lines = [
        f"{result.request_id} -> {result.target} ({d['request'].get('model', '?')}) "
        f"prompt v{result.prompt_version or '?'} replay {result.replay_id}",
        f"verdict: {result.verdict}{score}",
    ]
    if result.error:
        lines.append(f"reason: {result.error}")
    if result.output is not None:
        lines.append(
            f"latency {result.latency_ms:.0f} ms · tokens {result.tokens_in}/{result.tokens_out}"
            f" · ${result.cost_usd:.5f} · fingerprint {result.system_fingerprint or '-'}"
        )
    lines += [f"note: {n}" for n in d.get("notes", [])]
    if record is not None and result.output is not None:
        lines += [
            "--- logged",
            record.output or "(no output logged)",
            "--- replayed",
            result.output,
        ]
    return "\n".join(lines)


def _emit(
    results: list[tuple[ReplayResult, RequestRecord | None]], args: argparse.Namespace
) -> int:
    if args.json or args.jsonl:
        print_rows(args, (result_dict(result, record) for result, record in results))
    else:
        for result, record in results:
            print(_text(result, record))
    return 0 if all(r.verdict in ANSWERED for r, _ in results) else 1


def _log(session: Session) -> Any:
    log = session.request_log()
    if log is None:
        raise LlmdeckError(f"profile {session.profile.name!r} configures no request log")
    return log


def _get(session: Session, request_id: str) -> RequestRecord:
    return _log(session).get(request_id)


def run_replay(args: argparse.Namespace) -> int:
    from console.replay.engine import Replayer

    session = open_session(args)
    try:
        records = [_get(session, rid) for rid in args.request_ids]
        replayer = Replayer(session, _options(args, seed=args.seed))

        async def go() -> list[ReplayResult]:
            try:
                return [await replayer.replay(rec, strict=True) for rec in records]
            finally:
                await replayer.aclose()

        results = asyncio.run(go())
    finally:
        session.close()
    return _emit(list(zip(results, records, strict=True)), args)


def _progress(state: Any) -> None:
    if sys.stderr.isatty():
        counts = " ".join(f"{k} {v}" for k, v in sorted(state.counts.items()))
        sys.stderr.write(
            f"\r  replayed {state.done}/{state.total}  {counts}  ${state.cost_usd:.4f}"
        )
        sys.stderr.flush()


def run_batch(args: argparse.Namespace) -> int:
    from console.commands.requests import filter_from_args
    from console.replay import export
    from console.replay.engine import Replayer

    if args.limit <= 0:
        raise LlmdeckError("--limit must be positive")
    session = open_session(args)
    try:
        from console.core.tenants import names

        log, flt = _log(session), filter_from_args(args, names(session))
        records: list[RequestRecord] = []
        cursor = None
        while len(records) < args.limit:
            page = log.page(flt, limit=min(args.limit - len(records), 500), cursor=cursor)
            records += page.records
            cursor = page.next_cursor
            if cursor is None:
                break
        if not records:
            raise LlmdeckError("no logged requests match the filter")
        replayer = Replayer(session, _options(args, per_batch_budget=args.budget))

        async def go() -> Any:
            try:
                return await replayer.batch(
                    records, concurrency=args.concurrency, progress=_progress
                )
            finally:
                await replayer.aclose()

        report = asyncio.run(go())
        by_id = {r.request_id: r for r in records}
        pairs = [(res, by_id[res.request_id]) for res in report.results]
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        counts = ", ".join(
            f"{v} {k}" for k, v in sorted(_count(r.verdict for r, _ in pairs).items())
        )
        print(
            f"llmdeck: batch {report.batch_id}: {len(pairs)} replays ({counts}) in "
            f"{report.seconds:.1f} s",
            file=sys.stderr,
        )
        if args.export:
            n = export.write(args.export, pairs, args.format)
            print(f"llmdeck: wrote {n} {args.format} cases to {args.export}", file=sys.stderr)
        code = (
            _emit(list(pairs), args)
            if args.json or args.jsonl
            else (0 if all(r.verdict in ANSWERED for r, _ in pairs) else 1)
        )
    finally:
        session.close()
    return code


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def run_replays(args: argparse.Namespace) -> int:
    from console.replay import export, store

    session = open_session(args)
    try:
        conn = session.store()
        if args.batch is None:
            rows = []
            at = session.view.at
            # Pinned (--at): the batches that had been run by then.
            for b in (b for b in store.batches(conn) if at is None or b.started < at):
                counts = ", ".join(f"{v} {k}" for k, v in b.verdicts.items())
                row = {
                    "batch_id": b.batch_id or "single",
                    "started": b.started.isoformat(),
                    "target": b.target,
                    "prompt_version": b.prompt_version,
                    "n": b.n,
                    "verdicts": b.verdicts,
                    "cost_usd": b.cost_usd,
                }
                rows.append(row)
                if not (args.json or args.jsonl):
                    print(
                        f"{b.started:%Y-%m-%d %H:%M:%S}  {b.batch_id or 'single':<16} "
                        f"{b.target:<10} v{b.prompt_version or '-':<4} {b.n:>5}  {counts}"
                    )
            if args.json or args.jsonl:
                print_rows(args, rows)
            return 0
        batch = "" if args.batch == "single" else args.batch
        if args.compare:
            cmp = store.compare(conn, batch, args.compare)
            if not cmp.rows:
                raise LlmdeckError(f"batches {args.batch} and {args.compare} share no requests")
            if args.json or args.jsonl:
                print_rows(args, (
                    {"request_id": rid, "a_verdict": ra.verdict, "b_verdict": rb.verdict,
                     "b_vs_a": ab, "a_output": ra.output, "b_output": rb.output,
                     "a": cmp.a_label, "b": cmp.b_label}
                    for (rid, ra, rb), ab in zip(cmp.rows, cmp.ab, strict=True)
                ))  # fmt: skip
                return 0
            print(f"A: {args.batch} ({cmp.a_label})")
            print(f"B: {args.compare} ({cmp.b_label})")
            print(f"{'request':<28} {'A vs logged':<14} {'B vs logged':<14} B vs A")
            for (rid, ra, rb), ab in zip(cmp.rows, cmp.ab, strict=True):
                print(f"{rid:<28} {ra.verdict:<14} {rb.verdict:<14} {ab}")
            print(f"B's output differs from A's on {cmp.changed:.0%} of {len(cmp.rows)} requests")
            return 0
        results = store.for_batch(conn, batch)
        if not results:
            raise LlmdeckError(f"no stored replays in batch {args.batch!r}")
        log = _log(session)
        pairs: list[tuple[ReplayResult, RequestRecord | None]] = []
        for res in results:
            try:
                pairs.append((res, log.get(res.request_id)))
            except ConnectorError:
                pairs.append((res, None))
        if args.export:
            known = [(r, rec) for r, rec in pairs if rec is not None]
            n = export.write(args.export, known, args.format)
            print(f"llmdeck: wrote {n} {args.format} cases to {args.export}", file=sys.stderr)
            return 0
        return _emit(pairs, args)
    finally:
        session.close()
