"""Prompts in Langfuse, over its public API v2 (labels are the aliases).

Shapes (Langfuse API reference, ``/api/public/v2/prompts``):

- ``GET /api/public/v2/prompts?page=&limit=`` lists ``{"data": [PromptMeta],
  "meta": {"page", "limit", "totalItems", "totalPages"}}``; a PromptMeta is
  ``{name, type, versions: [int], labels, tags, lastUpdatedAt, lastConfig}``.
- ``GET /api/public/v2/prompts/{name}?version=N`` (or ``label=L``) returns one
  version: ``{name, version, type: "text"|"chat", prompt, config, labels,
  tags, commitMessage}``; a chat ``prompt`` is a list of ``{role, content}``
  messages and ``{type: "placeholder", name}`` slots.
- ``PATCH /api/public/v2/prompts/{name}/versions/{version}`` with
  ``{"newLabels": [...]}`` adds labels to a version; labels are unique across
  versions, so this moves them. ``latest`` is managed by Langfuse.

Authentication is HTTP Basic with the public key and the secret key. Langfuse
keeps prompts only: ``names("model")`` is empty.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from connectors.base import Registry, RegistryEntry
from connectors.errors import (
    AuthError,
    BackendUnavailable,
    InvalidChange,
    InvalidResponse,
    NotFound,
    QueryError,
    ReadOnlyError,
)
from connectors.options import Option
from connectors.records import Alias, BackendStatus, PromptVersion
from connectors.support import http as http_client
from connectors.support.redact import redact_url

API = "/api/public/v2/prompts"
PAGE = 100  # the API's maximum ``limit``
RESERVED = frozenset({"latest"})


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class LangfusePrompts(Registry):
    """Langfuse prompt management (cloud or self-hosted).

    Options: ``url`` (default ``https://cloud.langfuse.com``), ``public_key``,
    ``secret_key``, ``timeout`` (seconds), ``read_only``. Raises
    BackendUnavailable, AuthError (401/403), NotFound, InvalidResponse.
    """

    kind = "langfuse"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "write", "aliases"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, "https://cloud.langfuse.com", "cloud or self-hosted root"),
        Option("public_key", str, "", "project public key (pk-lf-...)"),
        Option("secret_key", str, "", "project secret key (sk-lf-...)", secret=True),
        Option("timeout", float, 10.0, "seconds per request"),
    )

    def __init__(
        self,
        *,
        url: str = "https://cloud.langfuse.com",
        public_key: str = "",
        secret_key: str = "",
        timeout: float = 10.0,
        read_only: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = redact_url(url.rstrip("/"))  # for messages; may hold no secret
        self.read_only = read_only
        self.errors: list[str] = []
        self._http = http_client.client(
            url,
            timeout=timeout,
            auth=(public_key, secret_key) if public_key or secret_key else None,
            transport=transport,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(3):
            try:
                resp = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise BackendUnavailable(
                    f"Langfuse at {self.url} is unreachable ({type(exc).__name__})"
                ) from None
            if resp.status_code in (429, 503) and attempt < 2:
                try:
                    wait = min(float(resp.headers.get("Retry-After", "")), 10.0)
                except ValueError:
                    wait = 0.5 * (attempt + 1)
                time.sleep(wait)
                continue
            break
        code = resp.status_code
        if code in (401, 403):
            raise AuthError(f"Langfuse at {self.url} refused the API keys (HTTP {code})")
        if code >= 500:
            raise BackendUnavailable(f"Langfuse at {self.url}: HTTP {code}")
        try:
            body = resp.json()
        except ValueError:
            raise InvalidResponse(f"Langfuse at {self.url}: {path} did not answer JSON") from None
        if code == 404:
            message = body.get("message") if isinstance(body, dict) else None
            raise NotFound(str(message or f"{path}: not found").splitlines()[0])
        if code >= 400:
            message = body.get("message") if isinstance(body, dict) else body
            raise QueryError(f"Langfuse rejected {path}: HTTP {code} {message}"[:200])
        return body

    def _list(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self._call("GET", API, params={"page": page, "limit": PAGE})
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise InvalidResponse(f"Langfuse at {self.url}: prompt list without 'data'")
            out += [d for d in data if isinstance(d, dict) and d.get("name")]
            meta = body.get("meta") or {}
            if not data or page >= int(meta.get("totalPages") or page):
                return out
            page += 1

    def ping(self) -> BackendStatus:
        started = time.perf_counter()
        try:
            self._call("GET", API, params={"page": 1, "limit": 1})
        except (BackendUnavailable, AuthError, InvalidResponse, QueryError) as exc:
            return BackendStatus(ok=False, detail=str(exc))
        rtt = (time.perf_counter() - started) * 1000
        return BackendStatus(ok=True, version="public API v2", rtt_ms=rtt, detail="prompts")

    def entries(self, kind: str = "prompt") -> list[RegistryEntry]:
        """Every prompt with its newest version. Labels (aliases) come from one
        read per prompt, since the listing says which labels exist but not where."""
        if kind != "prompt":
            return []
        out = []
        for meta in self._list():
            versions = [int(v) for v in meta.get("versions") or [] if isinstance(v, int)]
            name = str(meta["name"])
            out.append(
                RegistryEntry(
                    name,
                    "prompt",
                    str(max(versions)) if versions else "",
                    {a.alias: a.version for a in self._labels(name, meta.get("labels"))},
                    _when(meta.get("lastUpdatedAt")),
                )
            )
        return sorted(out, key=lambda e: e.name)

    def names(self, kind: str = "prompt") -> list[str]:
        if kind != "prompt":
            return []
        return sorted(str(m["name"]) for m in self._list())

    def _meta(self, name: str) -> dict[str, Any]:
        body = self._call("GET", API, params={"name": name, "limit": PAGE})
        for meta in body.get("data") or [] if isinstance(body, dict) else []:
            if isinstance(meta, dict) and meta.get("name") == name:
                return meta
        raise NotFound(f"{name!r} is not in Langfuse at {self.url}")

    def _one(self, name: str, **params: Any) -> PromptVersion:
        body = self._call("GET", f"{API}/{quote(name, safe='')}", params=params)
        if not isinstance(body, dict) or "version" not in body:
            raise InvalidResponse(f"Langfuse at {self.url}: {name} answered without a version")
        return self._version(body)

    def _version(self, body: Mapping[str, Any]) -> PromptVersion:
        name, version = str(body.get("name", "")), str(body.get("version", ""))
        prompt = body.get("prompt")
        template: str | None = None
        messages: list[dict[str, str]] = []
        if body.get("type") == "chat" and isinstance(prompt, list):
            for m in prompt:
                if isinstance(m, dict) and m.get("type") == "placeholder":
                    messages.append({"role": "placeholder", "content": f"{{{{{m.get('name')}}}}}"})
                elif isinstance(m, dict) and "role" in m:
                    messages.append({"role": str(m["role"]), "content": str(m.get("content", ""))})
                else:
                    self.errors.append(f"{name}@{version}: a chat message has no role")
        elif isinstance(prompt, str):
            template = prompt
        else:
            self.errors.append(f"{name}@{version}: prompt is neither text nor chat messages")
        config = body.get("config")
        if config is not None and not isinstance(config, dict):
            self.errors.append(f"{name}@{version}: config is not an object")
            config = {}
        labels = body.get("labels") or []
        tags = body.get("tags") or []
        return PromptVersion(
            name=name,
            version=version,
            kind="prompt",
            template=template,
            messages=tuple(messages),
            model_config=config or {},
            # Langfuse tags are plain words (no values): kept as tag -> "".
            tags={str(t): "" for t in tags if isinstance(t, str)},
            aliases=tuple(sorted(str(x) for x in labels if isinstance(x, str))),
            description=str(body.get("commitMessage") or ""),
            author=str(body.get("createdBy") or ""),
            created_at=_when(body.get("createdAt")),
        )

    def versions(self, name: str) -> list[PromptVersion]:
        meta = self._meta(name)
        self.errors = [e for e in self.errors if not e.startswith(f"{name}@")]
        numbers = sorted(int(v) for v in meta.get("versions") or [] if isinstance(v, int))
        return [self._one(name, version=n) for n in numbers]

    def get(self, name: str, ref: str) -> PromptVersion:
        """Version ``ref`` (a number or a label) of ``name``. Raises NotFound."""
        try:
            if ref.isdigit():
                return self._one(name, version=int(ref))
            return self._one(name, label=ref)
        except NotFound:
            kind = "version" if ref.isdigit() else "label"
            raise NotFound(f"{name}@{ref}: no such {kind} in Langfuse") from None

    def aliases(self, name: str) -> list[Alias]:
        return self._labels(name, self._meta(name).get("labels"))

    def _labels(self, name: str, labels: Any) -> list[Alias]:
        out = []
        for label in sorted(str(x) for x in labels or []):
            try:
                out.append(Alias(name, label, self._one(name, label=label).version))
            except NotFound:
                continue
        return out

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Move label ``alias`` to ``version``. Raises ReadOnlyError, InvalidChange, NotFound."""
        if self.read_only:
            raise ReadOnlyError("Langfuse prompts opened read-only")
        if alias in RESERVED:
            raise InvalidChange(f"the {alias!r} label is managed by Langfuse")
        if not version.isdigit():
            raise NotFound(f"{name}@{version}: Langfuse versions are numbers")
        path = f"{API}/{quote(name, safe='')}/versions/{int(version)}"
        self._call("PATCH", path, json={"newLabels": [alias]})

    def close(self) -> None:
        self._http.close()
