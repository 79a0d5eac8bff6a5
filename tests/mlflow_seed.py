"""Seed and read an MLflow server with the OFFICIAL client (run with the MLflow venv's python).

    python tests/mlflow_seed.py URL PREFIX seed   # prompts, models, first aliases
    python tests/mlflow_seed.py URL PREFIX move   # move aliases (what an operator would do)
    python tests/mlflow_seed.py URL PREFIX dump   # print the client's view as JSON
    python tests/mlflow_seed.py URL PREFIX bulk N V  # N text prompts x V versions (bench)

The mlflow package is not a dependency of llmdeck: tests and benches run this
script in a subprocess and compare the JSON with what the connector reads.
"""

from __future__ import annotations

import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.genai import register_prompt, set_prompt_alias

logging.disable(logging.INFO)

SUPPORT = [
    ("Answer {{question}} politely.\nUse the context: {{context}}", "first version"),
    ("Answer {{question}} politely and briefly.\nUse the context: {{context}}", "be brief"),
    ("Answer {{question}}  politely and briefly.\nUse the context: {{context}}\n", "spacing"),
]
CHAT = [
    [
        {"role": "system", "content": "You summarise tickets."},
        {"role": "user", "content": "Ticket: {{ticket}}"},
    ],
    [
        {"role": "user", "content": "Ticket: {{ticket}}"},
        {"role": "system", "content": "You summarise tickets."},
        {"role": "assistant", "content": "Summary:"},
    ],
]


def seed(client: MlflowClient, p: str) -> None:
    for i, (text, msg) in enumerate(SUPPORT, start=1):
        config = {"model_name": "gpt-4o-mini", "temperature": 0.2 * i, "max_tokens": 100 * i}
        register_prompt(f"{p}-support", text, commit_message=msg, model_config=config)
        client.set_prompt_version_tag(f"{p}-support", i, "eval.pass_ratio", f"0.{90 - i}")
        client.set_prompt_version_tag(f"{p}-support", i, "team", "support")
    for i, messages in enumerate(CHAT, start=1):
        register_prompt(f"{p}-summarize", messages, commit_message=f"chat v{i}")
    set_prompt_alias(f"{p}-support", "production", 1)
    set_prompt_alias(f"{p}-support", "canary", 2)
    set_prompt_alias(f"{p}-summarize", "production", 1)
    # A version whose model config tag is not JSON: listed anyway, problem reported.
    register_prompt(f"{p}-broken", "Hi {{name}}", commit_message="ok")
    client.set_prompt_version_tag(f"{p}-broken", 1, "_mlflow_prompt_model_config", "{oops")
    model = f"{p}-ranker"
    client.create_registered_model(model, tags={"owner": "search"}, description="reranker")
    for i in range(1, 4):
        client.create_model_version(
            model,
            source=f"s3://models/ranker/{i}",
            tags={"digest": f"sha256:{i:04d}"},
            description=f"ranker build {i}",
        )
    client.set_registered_model_alias(model, "champion", "2")


def move(client: MlflowClient, p: str) -> None:
    set_prompt_alias(f"{p}-support", "production", 2)
    set_prompt_alias(f"{p}-support", "canary", 3)
    client.set_registered_model_alias(f"{p}-ranker", "champion", "3")


def dump(client: MlflowClient, p: str) -> dict[str, object]:
    out: dict[str, Any] = {}
    for prompt in client.search_prompts(filter_string=f"name LIKE '{p}-%'"):
        versions: list[dict[str, Any]] = []
        for found in client.search_prompt_versions(prompt.name):
            try:
                v = client.get_prompt_version(prompt.name, found.version)
                versions.append(
                    {
                        "version": str(v.version),
                        "template": v.template if v.is_text_prompt else None,
                        "messages": None if v.is_text_prompt else v.template,
                        "model_config": v.model_config or {},
                        "commit_message": v.commit_message or "",
                        "tags": {k: x for k, x in v.tags.items() if not k.startswith("_mlflow")},
                        "aliases": sorted(v.aliases),
                    }
                )
            except ValueError as exc:  # the official client cannot read a malformed config
                error = type(exc).__name__
                versions.append({"version": str(found.version), "client_error": error})
        out[prompt.name] = {"kind": "prompt", "versions": sorted(versions, key=_num)}
    for model in client.search_registered_models(filter_string=f"name LIKE '{p}-%'"):
        model_versions: list[dict[str, Any]] = [
            {
                "version": str(v.version),
                "source": v.source,
                "description": v.description or "",
                "tags": dict(v.tags),
                "aliases": sorted(v.aliases),
            }
            for v in client.search_model_versions(f"name='{model.name}'")
        ]
        out[model.name] = {
            "kind": "model",
            "aliases": dict(model.aliases),
            "versions": sorted(model_versions, key=_num),
        }
    return out


def _num(v: dict[str, Any]) -> int:
    return int(str(v["version"]))


def bulk(p: str, prompts: int, versions: int) -> None:
    """Many prompts with many versions, registered concurrently (the server serialises)."""

    def one(i: int) -> None:
        for v in range(1, versions + 1):
            register_prompt(f"{p}-{i:04d}", f"Prompt {i} version {v}: {{{{q}}}}", f"v{v}")
        set_prompt_alias(f"{p}-{i:04d}", "production", versions)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(prompts)))


def main() -> None:
    url, prefix, action, *rest = sys.argv[1:]
    mlflow.set_tracking_uri(url)
    client = MlflowClient()
    if action == "seed":
        seed(client, prefix)
    elif action == "move":
        move(client, prefix)
    elif action == "dump":
        print(json.dumps(dump(client, prefix), sort_keys=True))
    elif action == "bulk":
        bulk(prefix, int(rest[0]), int(rest[1]))
    else:
        raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    main()
