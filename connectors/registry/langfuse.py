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
    ConnectorError,
    InvalidChange,
    InvalidResponse,
    NotFound,
    ReadOnlyError,
)
from connectors.options import Option
from connectors.records import Alias, BackendStatus, PromptVersion
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember

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
        *http.LIMIT_OPTIONS,
        *http.PAGE_OPTIONS,
    )

    def __init__(
        self,
        *,
        url: str = "https://cloud.langfuse.com",
        public_key: str = "",
        secret_key: str = "",
        timeout: float = 10.0,
        read_only: bool = False,
        deadline: float | None = None,
        max_body_mb: float | None = None,
        max_pages: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        remember(public_key, secret_key, url)
        self.url = redact_url(url.rstrip("/"))  # for messages; may hold no secret
        self.backend = f"Langfuse at {self.url}"
        self.limits = Limits.from_options(deadline, max_body_mb, max_pages)
        self.read_only = read_only
        self.errors: list[str] = []
        self._http = http.client(
            url,
            timeout=timeout,
            auth=(public_key, secret_key) if public_key or secret_key else None,
            transport=transport,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = http.send(
            self._http,
            method,
            path,
            backend=self.backend,
            what=path,
            limits=self.limits,
            retries=2,
            retry_statuses=frozenset({429, 503}),
            backoff=0.5,
            **kwargs,
        )
        return http.check(answer, backend=self.backend, what=path, expect=None)

    def _list(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        pages = http.Pages(self.backend, API, self.limits)
        while True:
            data, total = self._page(page, PAGE)
            out += data
            if not data or page >= (total or page):
                return out
            page += 1
            pages.next(page)  # "totalPages": 1e9 stops at max_pages

    def _list_of(self, body: Mapping[str, Any], key: str) -> list[Any]:
        """``body[key]`` as a list (absent: empty); InvalidResponse naming the field
        when Langfuse sends something else (``"versions": 5``)."""
        return list(http.field(body.get(key), list, self.backend, key) or [])

    def _page(self, page: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """One page of the prompt list: its prompts and the total page count."""
        body = self._call("GET", API, params={"page": page, "limit": limit})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise InvalidResponse(f"{self.backend}: {API}: prompt list without 'data'")
        meta = http.field(body.get("meta"), dict, self.backend, "meta") or {}
        total = http.field(meta.get("totalPages"), int, self.backend, "meta.totalPages")
        items = [d for d in data if isinstance(d, dict) and isinstance(d.get("name"), str)]
        for item in items:
            self._list_of(item, "versions")
            self._list_of(item, "labels")
        return items, total

    def ping(self) -> BackendStatus:
        """One real read: the first page of the prompt list, read as ``entries`` would."""
        started = time.perf_counter()
        try:
            self._page(1, 1)
        except ConnectorError as exc:
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
            versions = [v for v in self._list_of(meta, "versions") if isinstance(v, int)]
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
        for meta in self._list_of(body, "data") if isinstance(body, dict) else []:
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
        labels = self._list_of(body, "labels")
        tags = self._list_of(body, "tags")
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
        numbers = sorted(v for v in self._list_of(meta, "versions") if isinstance(v, int))
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
        for label in sorted(str(x) for x in self._list_of({"labels": labels}, "labels")):
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
