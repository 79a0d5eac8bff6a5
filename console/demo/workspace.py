"""Create the demo workspace: a week of traffic with an incident, a prompt
registry, a flag file, a gateway policy and a profile.

A workspace that already exists is reused as it is: a second ``llmdeck demo``
opens it again (and live traffic fills the gap since it last ran).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import yaml

from connectors.workspace.store import append_audit, insert_rows, snapshot_history, ts_ms
from console.core.errors import WorkspaceError
from console.core.session import open_store
from console.demo.traffic import Traffic
from console.demo.world import (
    CANARY_AGO,
    GOOD_VERSION,
    INCIDENT_PROMPT,
    INCIDENT_ROUTE,
    MODELS,
    ROUTES,
    TENANTS,
    hashed,
)

CONFIG_NAME = "llmdeck.yaml"
MARKER = ".llmdeck-demo"  # marks a directory this module may (re)build
POLICY = files("console.demo").joinpath("policy.rego")
LOCAL_MODEL_URL = "http://127.0.0.1:18081/v1"  # console/demo/local_model.py's port


@dataclass(frozen=True)
class DemoResult:
    path: Path
    created: bool
    records: int
    seconds: float


def profile_text() -> str:
    """The demo's llmdeck.yaml, laid out as a person would write it: comments,
    short mappings on one line, tenants by name, and no YAML anchors (the two
    profiles repeat their few lines rather than share ``&id001`` aliases)."""
    tenants = "\n".join(f"      {hashed('tenant', t)}: {t}" for t, _ in TENANTS)
    prices = "\n".join(
        f"      {m.name}: {{input_per_1k: {m.input_per_1k}, output_per_1k: {m.output_per_1k}}}"
        for m in MODELS.values()
    )
    budgets = ", ".join(f"{t}: 60" for t, _ in TENANTS)

    def profile(name: str, environment: str, comment: str, notes: bool) -> str:
        text = f"""\
  {name}:{comment}
    environment: {environment}
    workspace: .
    metrics: {{kind: workspace}}
    request_log: {{kind: workspace}}
    registry: {{kind: files, path: prompts}}
    flags: {{kind: flagd, path: flags.json}}
    policy: {{kind: rego, path: policy.rego, query: data.ai.gateway}}
    replay_targets:
      # the demo's local model (llama.cpp + SmolLM2); the console follows it
      # to another port when 18081 is taken
      local: {{kind: openai, url: "{LOCAL_MODEL_URL}", model: smollm2-135m}}
    # tenant ids are stored hashed; these are the names every screen shows
    # and filters accept (tenant:acme)
    tenants:
{tenants}
    prices:  # dollars per 1k tokens
{prices}
    # dollars per tenant per UTC day
    budgets: {{{budgets}}}
    slos:
      {INCIDENT_ROUTE}: {{refusal_rate: 0.05, p95_latency_ms: 6500}}
      # judged on each version: a canary that burns pages within minutes
      prompt {INCIDENT_PROMPT}: {{refusal_rate: 0.01}}
"""
        if notes:
            return text
        return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))

    return (
        "# llmdeck demo workspace: a week of traffic with an incident on "
        f"{INCIDENT_ROUTE}.\n"
        "# Paths are relative to this file; `llmdeck demo` reuses it as it is.\n"
        "default_profile: demo\n"
        "profiles:\n"
        + profile("demo", "development", "", notes=True)
        + profile(
            "demo-production",
            "production",
            "  # the same workspace as production: read-only, typed confirmations",
            notes=False,
        )
    )


def flags_doc() -> dict[str, object]:
    flags: dict[str, object] = {}
    for route in ROUTES:
        versions = [v.version for v in route.versions][-2:]
        flag: dict[str, object] = {
            "state": "ENABLED",
            "variants": {f"v{v}": v for v in versions},
            "defaultVariant": f"v{versions[0] if route.path == INCIDENT_ROUTE else versions[-1]}",
            "metadata": {
                "type": "release",
                "route": route.path,
                "prompt": route.prompt,
                "description": f"prompt version serving {route.path}",
            },
        }
        if route.path == INCIDENT_ROUTE:
            flag["targeting"] = {"fractional": [[f"v{versions[0]}", 50], [f"v{versions[1]}", 50]]}
        flags[route.flag] = flag
    flags["kill-support-chat"] = {
        "state": "DISABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
        "metadata": {
            "type": "kill-switch",
            "route": INCIDENT_ROUTE,
            "description": "answer /support/chat with a static fallback",
        },
    }
    flags["kill-claude-3-5-haiku"] = {
        "state": "DISABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
        "metadata": {
            "type": "kill-switch",
            "model": "claude-3-5-haiku",
            "description": "send no traffic to claude-3-5-haiku",
        },
    }
    return {"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": flags}


def registry_files(now: datetime) -> dict[str, dict[str, object]]:
    files: dict[str, dict[str, object]] = {}
    for route in ROUTES:
        versions = []
        for spec in route.versions:
            created = now - spec.released_ago - timedelta(hours=2)
            entry: dict[str, object] = {
                "version": spec.version,
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "author": spec.author,
                "description": spec.description,
                "model_config": {
                    "model": route.models[0][0],
                    "temperature": spec.temperature,
                    "top_p": 1.0,
                    "max_tokens": spec.max_tokens,
                },
                "tags": {"eval.pass_ratio": f"{spec.eval_pass_ratio:.2f}", "route": route.path},
            }
            if route.chat:
                entry["messages"] = [
                    {"role": "system", "content": "You summarise support tickets."},
                    {"role": "user", "content": spec.template},
                ]
            else:
                entry["template"] = spec.template
            versions.append(entry)
        aliases = {"production": route.versions[-1].version}
        if route.path == INCIDENT_ROUTE:
            aliases = {"production": GOOD_VERSION, "canary": route.versions[-1].version}
        files[route.prompt] = {
            "name": route.prompt,
            "kind": "prompt",
            "type": "chat" if route.chat else "text",
            "aliases": aliases,
            "versions": versions,
        }
    for model in MODELS.values():
        files[model.name] = {
            "name": model.name,
            "kind": "model",
            "aliases": {"production": "1"},
            "versions": [
                {
                    "version": "1",
                    "description": f"{model.provider} hosted",
                    "model_config": {"provider": model.provider, "digest": model.digest},
                    "tags": {"provider": model.provider},
                }
            ],
        }
    return files


def _history(conn: sqlite3.Connection, now: datetime) -> None:
    """Backdated alias and flag snapshots and audit entries: the changes that
    lead to the incident, so they show as markers and as last known good."""
    for route in ROUTES:
        for spec in route.versions:
            at = now - spec.released_ago
            alias = (
                "canary"
                if (route.path == INCIDENT_ROUTE and spec is route.versions[-1])
                else "production"
            )
            state = (
                {"production": spec.version}
                if alias == "production"
                else {"production": GOOD_VERSION, "canary": spec.version}
            )
            snapshot_history(conn, "alias", "files", route.prompt, state, at=at)
    flag_key = next(r.flag for r in ROUTES if r.path == INCIDENT_ROUTE)
    good_at = now - next(s.released_ago for s in ROUTES[0].versions if s.version == GOOD_VERSION)
    snapshot_history(
        conn,
        "flag",
        "flagd",
        flag_key,
        {"enabled": True, "weights": {f"v{GOOD_VERSION}": 100.0, "v14": 0.0}},
        at=good_at,
    )
    canary_at = now - CANARY_AGO
    snapshot_history(
        conn,
        "flag",
        "flagd",
        flag_key,
        {"enabled": True, "weights": {f"v{GOOD_VERSION}": 50.0, "v14": 50.0}},
        at=canary_at,
    )
    for at, action, target, before, after, reason in (
        (
            good_at,
            "set_weights",
            flag_key,
            {"v12": 100},
            {"v13": 100, "v14": 0},
            "promote support-answer v13",
        ),
        (canary_at, "move_alias", f"{INCIDENT_PROMPT}:canary", None, "14", "canary v14"),
        (
            canary_at,
            "set_weights",
            flag_key,
            {"v13": 100, "v14": 0},
            {"v13": 50, "v14": 50},
            "canary support-answer v14 (shorter answers)",
        ),
    ):
        append_audit(
            conn,
            {
                "ts": ts_ms(at),
                "who": "deploy-bot",
                "profile": "ci",
                "environment": "production",
                "action": action,
                "target": target,
                "outcome": "done",
                "before": before,
                "after": after,
                "reason": reason,
            },
        )


def create(
    path: Path,
    *,
    now: datetime | None = None,
    days: float = 7.0,
    seed: int = 7,
    rate_scale: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    stage: Callable[[str], None] | None = None,
) -> DemoResult:
    """Create the demo workspace in ``path`` (reusing one that is already there).

    ``progress(done, total)`` follows the generated requests; ``stage(text)``
    names each slower step after them (indexing takes a third of the time).

    Raises WorkspaceError when ``path`` cannot be written.
    """
    started = time.perf_counter()
    config = path / CONFIG_NAME
    if config.exists() and (path / "store.db").exists():
        return DemoResult(path, False, 0, 0.0)
    marker = path / MARKER
    if path.is_dir() and any(path.iterdir()) and not marker.exists():
        # Never rebuild over someone's real workspace, flag file or registry.
        raise WorkspaceError(f"{path}: not empty and not a demo workspace; choose another --dir")
    now = now or datetime.now(UTC)
    conn = open_store(path)
    marker.touch()
    try:
        with conn:
            conn.execute("DELETE FROM requests")  # a half-made workspace starts over
        conn.execute("PRAGMA synchronous=OFF")
        traffic = Traffic(now, seed)
        ts = traffic.timestamps(now.timestamp() - days * 86400, now.timestamp(), rate_scale)
        total = len(ts)
        batch = 20_000
        for lo in range(0, total, batch):
            insert_rows(conn, traffic.rows(ts[lo : lo + batch]))
            if progress:
                progress(min(lo + batch, total), total)
        _history(conn, now)
        conn.execute("PRAGMA synchronous=NORMAL")
        if stage:
            stage("analysing the indexes")
        conn.execute("ANALYZE")
        if stage:
            stage("writing the prompts, flags, policy and profile")
        _write_files(path, now)
    except OSError as exc:
        raise WorkspaceError(f"{path}: cannot write the demo workspace: {exc}") from None
    finally:
        conn.close()
    return DemoResult(path, True, total, time.perf_counter() - started)


def _write_files(path: Path, now: datetime) -> None:
    prompts = path / "prompts"
    prompts.mkdir(exist_ok=True)
    for name, doc in registry_files(now).items():
        (prompts / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (path / "flags.json").write_text(json.dumps(flags_doc(), indent=2) + "\n")
    (path / "policy.rego").write_text(POLICY.read_text())
    # The profile last: its presence marks a complete workspace.
    (path / CONFIG_NAME).write_text(profile_text())
