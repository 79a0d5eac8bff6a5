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
    AuthError,
    BackendUnavailable,
    InvalidResponse,
    NotFound,
    QueryError,
    ReadOnlyError,
)
from connectors.records import Alias, BackendStatus, PromptVersion
from connectors.redact import redact_url

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

    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        timeout: float = 10.0,
        read_only: bool = False,
        retries: int = 2,
        **_: Any,
    ) -> None:
        self.url = redact_url(url.rstrip("/"))  # for messages; may hold no secret
        self.read_only = read_only
        self.retries = retries
        self.errors: list[str] = []
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            transport=httpx.HTTPTransport(retries=retries),  # connection failures only
        )

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One REST call; 429/503 are retried honouring Retry-After."""
        for attempt in range(self.retries + 1):
            try:
                resp = self._http.request(method, API + path, **kwargs)
            except httpx.TimeoutException:
                raise BackendUnavailable(f"MLflow at {self.url} timed out") from None
            except httpx.HTTPError as exc:
                raise BackendUnavailable(
                    f"MLflow at {self.url} is unreachable ({type(exc).__name__})"
                ) from None
            if resp.status_code in (429, 503) and attempt < self.retries:
                time.sleep(_retry_after(resp.headers.get("Retry-After"), attempt))
                continue
            return self._read(resp, path)
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, resp: httpx.Response, path: str) -> dict[str, Any]:
        code = resp.status_code
        if code in (401, 403):
            raise AuthError(f"MLflow at {self.url} refused the credentials (HTTP {code})")
        try:
            body = resp.json() if resp.content else {}
        except ValueError:
            body = None
        if code >= 500:
            raise BackendUnavailable(f"MLflow at {self.url}: HTTP {code} on {path}")
        if not isinstance(body, dict):
            raise InvalidResponse(f"MLflow at {self.url}: {path} did not answer JSON (HTTP {code})")
        if code >= 400:
            error = str(body.get("error_code", ""))
            message = str(body.get("message", "")).splitlines()[0] if body.get("message") else ""
            if code == 404 or error == "RESOURCE_DOES_NOT_EXIST" or "not found" in message:
                raise NotFound(message or f"{path}: not found")
            raise QueryError(f"MLflow rejected {path}: {error} {message}".strip())
        return body

    def _pages(self, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated search, following ``next_page_token``."""
        token: str | None = None
        while True:
            query = dict(params, **({"page_token": token} if token else {}))
            body = self._call("GET", path, params=query)
            items = body.get(key, [])
            if not isinstance(items, list):
                raise InvalidResponse(f"MLflow at {self.url}: {key} is not a list")
            yield from (i for i in items if isinstance(i, dict))
            token = body.get("next_page_token") or None
            if not token:
                return

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
        started = time.perf_counter()
        try:
            resp = self._http.get("/health")
        except httpx.HTTPError as exc:
            return BackendStatus(ok=False, detail=f"unreachable ({type(exc).__name__})")
        rtt = (time.perf_counter() - started) * 1000
        if resp.status_code != 200:
            return BackendStatus(ok=False, rtt_ms=rtt, detail=f"HTTP {resp.status_code}")
        version = ""
        with contextlib.suppress(httpx.HTTPError):
            version = self._http.get("/version").text.strip()[:20]
        return BackendStatus(ok=True, version=version, rtt_ms=rtt, detail="registry")

    def entries(self, kind: str = "prompt") -> list[RegistryEntry]:
        """One search (paginated) for every prompt or model, newest version and aliases."""
        params: dict[str, Any] = {"max_results": PAGE}
        if kind == "prompt":
            params["filter"] = PROMPT_FILTER
        out = []
        for item in self._pages("/registered-models/search", "registered_models", params):
            latest = [v for v in item.get("latest_versions") or [] if isinstance(v, dict)]
            newest = max((str(v.get("version", "")) for v in latest), key=_vkey, default="")
            out.append(
                RegistryEntry(
                    name=str(item.get("name", "")),
                    kind="prompt" if kind == "prompt" else "model",
                    latest=newest,
                    aliases=_aliases(item.get("aliases")),
                    updated=_ms(item.get("last_updated_timestamp")),
                    description=str(item.get("description") or ""),
                )
            )
        return sorted(out, key=lambda e: e.name)

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
        aliases = _aliases(model.get("aliases"))
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
        aliases = _aliases(model.get("aliases"))
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
        return [Alias(name, a, v) for a, v in sorted(_aliases(model.get("aliases")).items())]

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


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        return min(float(header or ""), 10.0)
    except ValueError:
        return 0.2 * (2**attempt)
