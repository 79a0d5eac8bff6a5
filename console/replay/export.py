"""Export replays as golden test cases (JSONL) and as promptfoo test files.

A golden case is the logged request (messages, parameters with the seed,
variables) with the logged output as the expected answer, and what the
replay gave beside it. The promptfoo file is a list of test cases (``vars``,
``assert``, ``metadata``) to load with ``tests: file://<file>`` from a
promptfooconfig.yaml; the assertion is ``equals`` for replays judged
identical and ``rouge-n`` at the similarity threshold otherwise.

A logged refusal is never the expected answer: a golden set built from an
incident (v14 refusing what v13 answered) would otherwise pin the bug. Such a
case has no ``expected`` (the refusal is kept as ``logged_output``) and its
promptfoo assertion is ``not-equals`` the refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import yaml

from connectors.records import ReplayResult, RequestRecord
from connectors.support.atomic import PRIVATE, write_atomic
from console.core.errors import LlmdeckError
from console.replay.fidelity import DEFAULT_SIMILAR, IDENTICAL

Pair = tuple[ReplayResult, RequestRecord]


def golden_case(result: ReplayResult, record: RequestRecord) -> dict[str, Any]:
    """One golden test case as a JSON-ready dict."""
    sent = result.request or {}
    return {
        "id": record.request_id,
        "prompt_id": record.prompt_id,
        "prompt_version": result.prompt_version or record.prompt_version,
        "model": sent.get("model") or record.model_name,
        "messages": sent.get("messages") or [dict(m) for m in record.messages],
        "params": sent.get("params") or dict(record.params),
        "variables": dict(record.variables) if record.variables is not None else None,
        "retrieval": dict(record.retrieval) if record.retrieval else None,
        "expected": None if record.refusal else record.output,
        "logged_output": record.output,
        "logged_refusal": record.refusal,
        "replayed": sent.get("outputs") or ([result.output] if result.output else []),
        "verdict": result.verdict,
        "similarity": result.similarity,
        "replay_id": result.replay_id,
        "target": result.target,
        "system_fingerprint": {
            "logged": record.system_fingerprint,
            "replayed": result.system_fingerprint,
        },
    }


def golden_jsonl(pairs: Iterable[Pair]) -> bytes:
    """JSON Lines, one golden case per replay that has an expected output."""
    lines = [
        orjson.dumps(golden_case(r, rec), option=orjson.OPT_SORT_KEYS)
        for r, rec in pairs
        if rec.output is not None
    ]
    return b"".join(line + b"\n" for line in lines)


def promptfoo_case(
    result: ReplayResult, record: RequestRecord, threshold: float = DEFAULT_SIMILAR
) -> dict[str, Any]:
    """One promptfoo test case for a replayed request."""
    if record.variables is not None:
        variables: dict[str, Any] = {k: v for k, v in record.variables.items()}
    else:
        variables = {"messages": orjson.dumps([dict(m) for m in record.messages]).decode()}
    expected = record.output or ""
    check: dict[str, Any]
    if record.refusal:
        check = {"type": "not-equals", "value": expected}  # the refusal is what must change
    elif result.verdict == IDENTICAL:
        check = {"type": "equals", "value": expected}
    else:
        check = {"type": "rouge-n", "value": expected, "threshold": round(threshold, 2)}
    version = result.prompt_version or record.prompt_version
    score = "" if result.similarity is None else f" {result.similarity:.2f}"
    return {
        "description": f"{record.request_id} {record.prompt_id}@{version}: {result.verdict}{score}",
        "vars": variables,
        "assert": [check],
        "metadata": {
            "request_id": record.request_id,
            "prompt_id": record.prompt_id,
            "prompt_version": version,
            "model": record.model_name,
            "params": orjson.dumps(dict(record.params)).decode(),
            "replay_id": result.replay_id,
            "verdict": result.verdict,
            "logged_refusal": record.refusal,
        },
    }


def promptfoo_yaml(pairs: Iterable[Pair], threshold: float = DEFAULT_SIMILAR) -> str:
    cases = [promptfoo_case(r, rec, threshold) for r, rec in pairs if rec.output is not None]
    header = (
        "# promptfoo test cases exported by llmdeck from replayed requests.\n"
        "# Use from promptfooconfig.yaml:  tests: file://<this file>\n"
    )
    return header + yaml.safe_dump(cases, sort_keys=False, allow_unicode=True, width=100)


def write(path: Path, pairs: Iterable[Pair], fmt: str) -> int:
    """Write ``pairs`` to ``path`` as ``golden`` JSONL or ``promptfoo`` YAML.

    Returns how many cases were written. Raises LlmdeckError for an unknown
    format or an unwritable path.
    """
    items = [p for p in pairs if p[1].output is not None]
    if fmt == "golden":
        data = golden_jsonl(items).decode()
    elif fmt == "promptfoo":
        data = promptfoo_yaml(items)
    else:
        raise LlmdeckError(f"unknown export format {fmt!r} (golden, promptfoo)")
    try:
        write_atomic(path, data, mode=PRIVATE)  # logged prompts and outputs: 0600
    except OSError as exc:
        raise LlmdeckError(f"{path}: cannot write export: {exc.strerror}") from None
    return len(items)
