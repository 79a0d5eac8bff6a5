"""Prompts and models in an MLflow 3 registry, over its REST API (no mlflow import).

MLflow keeps prompts as registered models tagged ``mlflow.prompt.is_prompt``
and hides them from every search whose filter does not name that tag, so
prompt searches always carry it (docs/backends.md). A version's template is the
``mlflow.prompt.text`` tag (a JSON list of messages for chat prompts), its
model config the ``_mlflow_prompt_model_config`` tag, its commit message the
version's ``description``. Aliases come from ``registered-models/get|search``:
``model-versions/search`` does not return them.

A version with malformed tags is still listed (with what could be read) and
the problem is kept in ``errors``, one line each.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from connectors.base import Registry, RegistryEntry
from connectors.errors import (
    ConnectorError,
    InvalidResponse,
    NotFound,
    ReadOnlyError,
)
from connectors.options import Option
from connectors.records import Alias, BackendStatus, PromptVersion
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember

API = "/api/2.0/mlflow"
IS_PROMPT = "mlflow.prompt.is_prompt"
TEXT_TAG = "mlflow.prompt.text"
TYPE_TAG = "_mlflow_prompt_type"
CONFIG_TAG = "_mlflow_prompt_model_config"
PROMPT_FILTER = f"tags.`{IS_PROMPT}` = 'true'"
PAGE = 1000  # registered-models/search refuses more per page


def _internal(key: str) -> bool:
    """MLflow's own bookkeeping tags, not shown as the user's tags."""
    return key.startswith(("mlflow.", "_mlflow"))


def _ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


class MlflowRegistry(Registry):
    """An MLflow tracking server's model and prompt registry.

    Options: ``url`` (server root), ``token`` (bearer, optional), ``timeout``
    (seconds), ``read_only``. Raises BackendUnavailable when the server does not
    answer, AuthError on 401/403, NotFound for unknown names/versions/aliases,
    InvalidResponse for an unreadable answer.
    """

    kind = "mlflow"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "write", "aliases"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="tracking server root, e.g. http://mlflow:5000"),
        Option("token", str, None, "bearer token", secret=True),
        Option("timeout", float, 10.0, "seconds per request"),
        Option("retries", int, 2, "retries on connection failures"),
        *http.LIMIT_OPTIONS,
        *http.PAGE_OPTIONS,
    )

    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        timeout: float = 10.0,
        read_only: bool = False,
        retries: int = 2,
        deadline: float | None = None,
        max_body_mb: float | None = None,
        max_pages: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        remember(token, url)
        self.url = redact_url(url.rstrip("/"))  # for messages; may hold no secret
        self.backend = f"MLflow at {self.url}"
        self.read_only = read_only
        self.retries = retries
        self.errors: list[str] = []
        self.limits = Limits.from_options(deadline, max_body_mb, max_pages)
        self._http = http.client(
            url, timeout=timeout, bearer=token or "", transport=transport
        )  # the transport retries connection failures only

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One REST call; 429/503 are retried honouring Retry-After."""
        answer = http.send(
            self._http,
            method,
            API + path,
            backend=self.backend,
            what=path,
            limits=self.limits,
            retries=self.retries,
            retry_statuses=frozenset({429, 503}),
            **kwargs,
        )
        body: dict[str, Any] = http.check(
            answer, backend=self.backend, what=path, classify=_classify, empty={}
        )
        return body

    def _pages(self, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated search, following ``next_page_token``; at most
        ``max_pages`` pages, and a token handed out twice is an error, not a loop."""
        token: str | None = None
        pages = http.Pages(self.backend, path, self.limits)
        while True:
            query = dict(params, **({"page_token": token} if token else {}))
            body = self._call("GET", path, params=query)
            items = body.get(key, [])
            if not isinstance(items, list):
                raise InvalidResponse(f"{self.backend}: {path}: {key} is not a list")
            yield from (i for i in items if isinstance(i, dict))
            token = http.field(body.get("next_page_token"), str, self.backend, "next_page_token")
            if not token:
                return
            pages.next(token)

    # ------------------------------------------------------------- mapping
    def _version(self, item: Mapping[str, Any], aliases: Mapping[str, str]) -> PromptVersion:
        name, version = str(item.get("name", "")), str(item.get("version", ""))
        tags = _tags(item.get("tags"))
        is_prompt = tags.get(IS_PROMPT) == "true"
        template: str | None = None
        messages: tuple[Mapping[str, str], ...] = ()
        config: dict[str, Any] = {}
        if is_prompt:
            text = tags.get(TEXT_TAG)
            if text is None:
                self.errors.append(f"{name}@{version}: no {TEXT_TAG} tag (empty template)")
            elif tags.get(TYPE_TAG) == "chat":
                messages = self._messages(name, version, text)
                template = None if messages else text
            else:
                template = text
            raw_config = tags.get(CONFIG_TAG)
            if raw_config:
                try:
                    loaded = json.loads(raw_config)
                    if not isinstance(loaded, dict):
                        raise ValueError
                    config = loaded
                except ValueError:
                    self.errors.append(f"{name}@{version}: {CONFIG_TAG} is not a JSON object")
        return PromptVersion(
            name=name,
            version=version,
            kind="prompt" if is_prompt else "model",
            template=template,
            messages=messages,
            model_config=config,
            tags={k: v for k, v in tags.items() if not _internal(k)},
            aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
            description=str(item.get("description") or ""),
            author=str(item.get("user_id") or tags.get("mlflow.user") or ""),
            created_at=_ms(item.get("creation_timestamp")),
            source="" if is_prompt else str(item.get("source") or ""),
        )

    def _messages(self, name: str, version: str, text: str) -> tuple[Mapping[str, str], ...]:
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if not isinstance(loaded, list) or not all(
            isinstance(m, dict) and "role" in m for m in loaded
        ):
            self.errors.append(f"{name}@{version}: chat {TEXT_TAG} is not a list of messages")
            return ()
        return tuple(
            {"role": str(m["role"]), "content": _content(m.get("content"))} for m in loaded
        )

    # ------------------------------------------------------------ contract
    def ping(self) -> BackendStatus:
        """``/health``, then one real registry read (a one-item prompt search):
        a server whose health is fine but whose registry API fails is not ok."""
        started = time.perf_counter()
        try:
            answer = http.send(
                self._http, "GET", "/health", backend=self.backend, limits=self.limits
            )
            http.check(answer, backend=self.backend, what="/health", expect=None, empty="")
            rtt = (time.perf_counter() - started) * 1000
            body = self._call(
                "GET",
                "/registered-models/search",
                params={"max_results": 1, "filter": PROMPT_FILTER},
            )
            # Read it as entries() would, so a wrong shape is reported here too.
            items = http.field(
                body.get("registered_models"), list, self.backend, "registered_models"
            )
            for item in items or []:
                if isinstance(item, dict):
                    self._entry(item, "prompt")
        except ConnectorError as exc:
            return BackendStatus(ok=False, detail=str(exc))
        version = ""
        with contextlib.suppress(ConnectorError):
            answer = http.send(
                self._http, "GET", "/version", backend=self.backend, limits=self.limits
            )
            version = answer.text.strip()[:20] if answer.status_code == 200 else ""
        return BackendStatus(ok=True, version=version, rtt_ms=rtt, detail="registry")

    def entries(self, kind: str = "prompt") -> list[RegistryEntry]:
        """One search (paginated) for every prompt or model, newest version and aliases."""
        params: dict[str, Any] = {"max_results": PAGE}
        if kind == "prompt":
            params["filter"] = PROMPT_FILTER
        items = self._pages("/registered-models/search", "registered_models", params)
        return sorted((self._entry(i, kind) for i in items), key=lambda e: e.name)

    def _entry(self, item: Mapping[str, Any], kind: str) -> RegistryEntry:
        raw = http.field(item.get("latest_versions"), list, self.backend, "latest_versions")
        latest = [v for v in raw or [] if isinstance(v, dict)]
        newest = max((str(v.get("version", "")) for v in latest), key=_vkey, default="")
        return RegistryEntry(
            name=str(item.get("name", "")),
            kind="prompt" if kind == "prompt" else "model",
            latest=newest,
            aliases=self._aliases(item),
            updated=_ms(item.get("last_updated_timestamp")),
            description=str(item.get("description") or ""),
        )

    def _aliases(self, item: Mapping[str, Any]) -> dict[str, str]:
        return _aliases(http.field(item.get("aliases"), list, self.backend, "aliases"))

    def names(self, kind: str = "prompt") -> list[str]:
        return [e.name for e in self.entries(kind)]

    def _model(self, name: str) -> dict[str, Any]:
        try:
            body = self._call("GET", "/registered-models/get", params={"name": name})
        except NotFound:
            raise NotFound(f"{name!r} is not in the MLflow registry at {self.url}") from None
        model = body.get("registered_model")
        if not isinstance(model, dict):
            raise InvalidResponse(f"MLflow at {self.url}: registered_model missing for {name!r}")
        return model

    def versions(self, name: str) -> list[PromptVersion]:
        model = self._model(name)
        aliases = self._aliases(model)
        flt = f"name='{_quote(name)}'"
        if _tags(model.get("tags")).get(IS_PROMPT) == "true":
            flt += f" AND {PROMPT_FILTER}"
        self.errors = [e for e in self.errors if not e.startswith(f"{name}@")]
        items = self._pages("/model-versions/search", "model_versions", {"filter": flt})
        found = [self._version(i, aliases) for i in items]
        return sorted(found, key=lambda v: _vkey(v.version))

    def get(self, name: str, ref: str) -> PromptVersion:
        """Version ``ref`` (a number or an alias) of ``name``. Raises NotFound."""
        model = self._model(name)
        aliases = self._aliases(model)
        version = ref if ref.isdigit() else aliases.get(ref)
        if version is None:
            known = ", ".join(sorted(aliases)) or "none"
            raise NotFound(f"{name}@{ref}: no such alias (aliases: {known})")
        try:
            body = self._call(
                "GET", "/model-versions/get", params={"name": name, "version": version}
            )
        except NotFound:
            raise NotFound(f"{name}@{ref}: no such version") from None
        item = body.get("model_version")
        if not isinstance(item, dict):
            raise InvalidResponse(f"MLflow at {self.url}: model_version missing for {name}@{ref}")
        return self._version(item, aliases)

    def aliases(self, name: str) -> list[Alias]:
        model = self._model(name)
        return [Alias(name, a, v) for a, v in sorted(self._aliases(model).items())]

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` of ``name`` at ``version``. Raises ReadOnlyError, NotFound."""
        if self.read_only:
            raise ReadOnlyError("MLflow registry opened read-only")
        self._call(
            "POST",
            "/registered-models/alias",
            json={"name": name, "alias": alias, "version": str(version)},
        )

    def close(self) -> None:
        self._http.close()


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if raw is not None and not isinstance(raw, list):
        raise InvalidResponse(f"MLflow: field tags is {type(raw).__name__}, expected an array")
    out = {}
    for tag in raw or []:
        if isinstance(tag, dict) and "key" in tag:
            out[str(tag["key"])] = str(tag.get("value", ""))
    return out


def _aliases(raw: Any) -> dict[str, str]:
    return {
        str(a["alias"]): str(a.get("version", ""))
        for a in raw or []
        if isinstance(a, dict) and "alias" in a
    }


def _content(value: Any) -> str:
    """Message content as text: structured parts are kept as their JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _vkey(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 62, version)


def _classify(code: int, detail: str) -> tuple[type[ConnectorError], str] | None:
    """MLflow names a missing object in the body (``RESOURCE_DOES_NOT_EXIST``),
    sometimes with 400: that is NotFound, not a rejected query."""
    if code < 500 and ("RESOURCE_DOES_NOT_EXIST" in detail or "not found" in detail.lower()):
        return NotFound, "not found"
    return None
