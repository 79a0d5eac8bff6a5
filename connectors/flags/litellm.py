"""LiteLLM proxy model block/unblock as kill switches (one per model).

LiteLLM restricts models per team (docs.litellm.ai/docs/proxy/model_access,
"Restrict models by team_id"): a team's ``models`` list is what its keys may
call; an empty list allows every model. Blocking a model for the gateway's
team removes it from that list; unblocking adds it back. Models come from
``GET /model/info`` (``data[].model_name``), the team from
``GET /team/info?team_id=`` (``team_info.models``), writes go to
``POST /team/update {"team_id", "models"}``, all with the proxy admin key as
``Authorization: Bearer``.

``Flag.revision`` is a hash of the team's model list; a write re-reads it and
raises Conflict when it moved (LiteLLM has no conditional update).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from connectors.base import FlagStore
from connectors.errors import (
    Conflict,
    ConnectorError,
    InvalidChange,
    InvalidResponse,
    NotFound,
)
from connectors.options import Option
from connectors.records import BackendStatus, Flag, FlagEnvironment
from connectors.support import http
from connectors.support.http import Limits
from connectors.support.redact import redact_url, remember


class LiteLLMModels(FlagStore):
    """Each model of a LiteLLM proxy as a kill switch: on = blocked for the team."""

    kind = "litellm"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "write"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("url", str, doc="LiteLLM proxy root"),
        Option("api_key", str, doc="proxy admin key", secret=True),
        Option("team_id", str, doc="team whose model access is switched"),
        Option("environment", str, None, "environment name shown (default: the profile's)"),
        Option("timeout", float, 10.0, "seconds per request"),
        *http.LIMIT_OPTIONS,
    )

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        team_id: str,
        environment: str = "production",
        read_only: bool = False,
        timeout: float = 10.0,
        deadline: float | None = None,
        max_body_mb: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(read_only=read_only)
        remember(api_key, url)
        self.backend = f"litellm at {redact_url(url.rstrip('/'))}"
        self.team_id = team_id
        self.environment = environment
        self.limits = Limits.from_options(deadline, max_body_mb, default_deadline=30.0)
        self._client = http.client(url, timeout=timeout, bearer=api_key, transport=transport)

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        answer = http.send(
            self._client, method, path, backend=self.backend, what=path, limits=self.limits, **kw
        )
        # A 4xx on a write is LiteLLM refusing the change (unknown model, bad team).
        return http.check(answer, backend=self.backend, what=path, rejected=InvalidChange)

    def ping(self) -> BackendStatus:
        """One real read of both things ``flags()`` needs: the models and the team."""
        started = time.perf_counter()
        try:
            models, allowed = self._models(), self._team_models()
        except ConnectorError as exc:
            return BackendStatus(ok=False, detail=str(exc))
        rtt = (time.perf_counter() - started) * 1000
        blocked = len([m for m in models if allowed and m not in allowed])
        return BackendStatus(
            ok=True, rtt_ms=rtt, detail=f"{len(models)} models, {blocked} blocked for the team"
        )

    def _models(self) -> list[str]:
        data = self._call("GET", "/model/info")
        rows = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(rows, list):
            raise InvalidResponse(f"{self.backend}: /model/info: no data list")
        return sorted({str(r["model_name"]) for r in rows if isinstance(r, Mapping)
                       and isinstance(r.get("model_name"), str) and r["model_name"]})  # fmt: skip

    def _team_models(self) -> list[str]:
        data = self._call("GET", "/team/info", params={"team_id": self.team_id})
        info = data.get("team_info") if isinstance(data, Mapping) else None
        if not isinstance(info, Mapping) or not isinstance(info.get("models", []), list):
            raise InvalidResponse(f"{self.backend}: /team/info: no team_info.models list")
        models = info.get("models") or []
        if not all(isinstance(m, str) for m in models):
            raise InvalidResponse(f"{self.backend}: /team/info: team_info.models holds non-strings")
        return list(models)

    @staticmethod
    def _revision(team_models: list[str]) -> str:
        return hashlib.sha256("\n".join(sorted(team_models)).encode()).hexdigest()

    def flags(self) -> list[Flag]:
        models, allowed = self._models(), self._team_models()
        revision = self._revision(allowed)
        return [
            Flag(
                key=m,
                kind="kill-switch",
                environments=(
                    FlagEnvironment(self.environment, bool(allowed) and m not in allowed),
                ),
                description=f"block {m} for team {self.team_id}",
                revision=revision,
                metadata={"model": m},
            )
            for m in models
        ]

    def set_enabled(self, key: str, environment: str, enabled: bool, *, expected: Flag) -> None:
        self.check_writable()
        models, allowed = self._models(), self._team_models()
        if self._revision(allowed) != expected.revision:
            raise Conflict(f"litellm team {self.team_id} models changed; nothing written")
        if key not in models:
            raise NotFound(f"litellm has no model {key!r}")
        current = set(allowed or models)  # an empty list allows every model
        wanted = current - {key} if enabled else current | {key}
        if not wanted:
            raise InvalidChange(f"blocking {key} would leave team {self.team_id} no model")
        self._call("POST", "/team/update",
                   json={"team_id": self.team_id, "models": sorted(wanted)})  # fmt: skip

    def close(self) -> None:
        self._client.close()
