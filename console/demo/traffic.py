"""Synthetic but realistic LLM gateway traffic for the demo workspace.

One generator serves both the week of history and the live traffic appended
while the console runs, so both follow the same distributions. Random draws
are vectorised with numpy; texts come from pools built once, so a record
costs a few microseconds. Live traffic follows the flag file (``Routing``):
routing the incident route back to the good prompt version makes its
refusal rate fall back within a minute.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.demo.world import (
    CANARY_AGO,
    FINGERPRINT_CHANGE_AGO,
    HASH_ONLY_TENANT,
    INCIDENT_ROUTE,
    MODELS,
    POLICY_VERSION,
    ROUTES,
    SPIKE_HOURS,
    SPIKE_TENANT,
    TENANTS,
    Route,
    hashed,
)

if TYPE_CHECKING:
    import numpy as np

MEAN_RATE_PER_MIN = 24.0
REFUSAL_TEXT = "I'm sorry, but I can't help with that request based on the available information."
_SENTENCES = (
    "Thanks for reaching out.",
    "Here is what you can do.",
    "Open Settings and choose Security.",
    "Then select the option that matches your case.",
    "The change takes effect within a few minutes.",
    "You will receive a confirmation email.",
    "If it still fails, clear the cache and sign in again.",
    "Our status page lists any ongoing incidents.",
    "Invoices are under Billing, then History.",
    "Exports run in the background and you are notified when they finish.",
    "Admins can change this for the whole workspace.",
    "See the linked help article for details.",
    "Let me know if there is anything else I can help with.",
)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Routing:
    """Which prompt version serves each route, and what is switched off.

    ``weights[route]`` maps prompt versions to weights; ``killed_routes`` answer
    every request as blocked; ``killed_models`` get no traffic.
    """

    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    killed_routes: set[str] = field(default_factory=set)
    killed_models: set[str] = field(default_factory=set)


def routing_from_flags(doc: dict[str, Any]) -> Routing:
    """Read a flagd document the way the demo gateway does."""
    routing = Routing()
    for key, flag in (doc.get("flags") or {}).items():
        meta = flag.get("metadata") or {}
        on = flag.get("state") == "ENABLED"
        if meta.get("type") == "kill-switch":
            if on and meta.get("route"):
                routing.killed_routes.add(meta["route"])
            if on and meta.get("model"):
                routing.killed_models.add(meta["model"])
            continue
        route = meta.get("route")
        if not route:
            continue
        variants = flag.get("variants") or {}
        pairs = (flag.get("targeting") or {}).get("fractional") if on else None
        if pairs:
            w = {
                str(variants[p[0]]): float(p[1])
                for p in pairs
                if isinstance(p, list) and p[0] in variants
            }
        else:
            w = {str(variants.get(flag.get("defaultVariant"), "")): 1.0}
        if sum(w.values()) > 0:
            routing.weights[route] = {k: v for k, v in w.items() if k}
        del key
    return routing


class Traffic:
    """Generates request rows (``REQUEST_COLUMNS`` order) relative to ``now``."""

    def __init__(self, now: datetime, seed: int = 7) -> None:
        import numpy as np

        self.now = now.timestamp()
        self.rng = np.random.default_rng(seed)
        self._np = np
        self._pools = {r.path: self._pool(r) for r in ROUTES}
        self._tenants = [hashed("tenant", t) for t, _ in TENANTS]
        self._tenant_p = np.array([w for _, w in TENANTS])
        self._users = [[hashed("user", f"{t}-{i}") for i in range(40)] for t, _ in TENANTS]
        self._serial = 0
        self._prefix = f"{seed:04x}"

    # -- pools of text, built once -------------------------------------------------
    def _pool(self, route: Route) -> dict[str, Any]:
        pool: dict[str, Any] = {"messages": {}, "variables": [], "retrieval": []}
        for q_i, question in enumerate(route.questions):
            if route.prompt == "support-answer":
                variables = {"question": question, "context": f"KB-{100 + q_i}: {question[:30]}"}
                retrieval = json.dumps(
                    {
                        "index_snapshot": "kb-2026-11-22",
                        "query": question,
                        "doc_ids": [f"kb-{100 + q_i}", f"kb-{300 + q_i}"],
                        "scores": [round(0.9 - q_i * 0.01, 3), round(0.7 - q_i * 0.01, 3)],
                    }
                )
            elif route.prompt == "ticket-summary":
                variables, retrieval = {"ticket": question}, None
            else:
                variables, retrieval = {"request": question, "schema": "orders, tenants"}, None
            pool["variables"].append(json.dumps(variables))
            pool["retrieval"].append(retrieval)
            for spec in route.versions:
                text = spec.template
                for k, v in variables.items():
                    text = text.replace("{{" + k + "}}", v)
                if route.chat:
                    msgs = [
                        {"role": "system", "content": "You summarise support tickets."},
                        {"role": "user", "content": text},
                    ]
                else:
                    msgs = [
                        {"role": "system", "content": text.split("\n\nQuestion:")[0]},
                        {"role": "user", "content": question},
                    ]
                encoded = json.dumps(msgs)
                pool["messages"][(spec.version, q_i)] = (encoded, _sha(encoded))
        outputs = []
        for n_sentences in range(1, len(_SENTENCES) + 1):
            text = " ".join(_SENTENCES[:n_sentences])
            outputs.append((text, _sha(text)))
        pool["outputs"] = outputs
        pool["refusal"] = (REFUSAL_TEXT, _sha(REFUSAL_TEXT))
        return pool

    # -- the timeline of the history -----------------------------------------------
    def rate_per_min(self, t: float) -> float:
        """Requests per minute at unix time ``t``: a daily cycle peaking at ``now``."""
        return MEAN_RATE_PER_MIN * (1 + 0.6 * math.cos(2 * math.pi * (t - self.now) / 86400))

    def history_versions(self, route: Route, ts: np.ndarray) -> np.ndarray:
        """The prompt version of each request at its time, from release dates; the
        incident route splits 50/50 between the good and the bad version since the canary."""
        np = self._np
        versions = np.full(len(ts), route.versions[0].version, dtype=object)
        for spec in route.versions:
            versions[ts >= self.now - spec.released_ago.total_seconds()] = spec.version
        if route.path == INCIDENT_ROUTE:
            canary = ts >= self.now - CANARY_AGO.total_seconds()
            coin = self.rng.random(len(ts)) < 0.5
            versions[canary] = np.where(
                coin[canary], route.versions[-1].version, route.versions[-2].version
            )
        return versions

    def timestamps(self, start: float, end: float, rate_scale: float = 1.0) -> np.ndarray:
        """Poisson arrivals between ``start`` and ``end`` (unix seconds), sorted."""
        np = self._np
        minutes = np.arange(math.floor(start / 60) * 60, end, 60.0)
        rates = np.array([self.rate_per_min(m + 30) for m in minutes]) * rate_scale
        counts = self.rng.poisson(rates)
        ts = np.repeat(minutes, counts) + self.rng.random(int(counts.sum())) * 60
        ts = ts[(ts >= start) & (ts < end)]
        ts.sort()
        return ts

    # -- rows ------------------------------------------------------------------------
    def rows(self, ts: np.ndarray, routing: Routing | None = None) -> list[tuple[Any, ...]]:
        """One request row per timestamp. ``routing`` None means the history timeline."""
        np = self._np
        rng = self.rng
        n = len(ts)
        route_i = rng.choice(len(ROUTES), size=n, p=[r.share for r in ROUTES])
        tenant_i = rng.choice(len(TENANTS), size=n, p=self._tenant_p)
        spike = ts >= self.now - SPIKE_HOURS * 3600
        spike_tenant = next(i for i, (t, _) in enumerate(TENANTS) if t == SPIKE_TENANT)
        tenant_i[spike & (rng.random(n) < 0.45)] = spike_tenant
        u = rng.random(n)
        seeds = rng.integers(1, 2**31 - 1, size=n)
        q_u = rng.random(n)
        user_i = rng.integers(0, 40, size=n)
        out_noise = rng.lognormal(0.0, 0.35, size=n)
        in_noise = rng.lognormal(0.0, 0.25, size=n)
        lat_noise = rng.lognormal(0.0, 0.3, size=n)
        ttft = rng.uniform(150, 420, size=n)
        refusal_u = rng.random(n)
        model_u = rng.random(n)
        trace = rng.integers(0, 2**63 - 1, size=(n, 2))
        hash_only = next(i for i, (t, _) in enumerate(TENANTS) if t == HASH_ONLY_TENANT)
        fp_switch = self.now - FINGERPRINT_CHANGE_AGO.total_seconds()
        versions = np.empty(n, dtype=object)
        for r_i, route in enumerate(ROUTES):
            mask = route_i == r_i
            if routing is None or route.path not in routing.weights:
                versions[mask] = self.history_versions(route, ts[mask])
            else:
                w = routing.weights[route.path]
                names = list(w)
                p = np.array([w[k] for k in names], dtype=float)
                versions[mask] = rng.choice(names, size=int(mask.sum()), p=p / p.sum())
        rows = []
        ts_l, route_l, tenant_l, versions_l = (
            ts.tolist(),
            route_i.tolist(),
            tenant_i.tolist(),
            versions.tolist(),
        )
        for i in range(n):
            route = ROUTES[route_l[i]]
            pool = self._pools[route.path]
            spec = next(
                (s for s in route.versions if s.version == versions_l[i]), route.versions[-1]
            )
            models = [
                (m, w) for m, w in route.models if not routing or m not in routing.killed_models
            ] or list(route.models)
            total = sum(w for _, w in models)
            acc, model_name = 0.0, models[-1][0]
            for m, w in models:
                acc += w / total
                if model_u[i] < acc:
                    model_name = m
                    break
            model = MODELS[model_name]
            t = ts_l[i]
            tenant = tenant_l[i]
            q_i = int(q_u[i] * len(route.questions))
            messages, prompt_hash = pool["messages"][(spec.version, q_i)]
            status, error = "ok", None
            # A killed route answers before the gateway's safety policy runs: the
            # record is blocked with no safety decision (None), which is how Drift
            # tells an operator's kill switch from a policy block.
            decision: str | None = "allow"
            if routing and route.path in routing.killed_routes:
                status, error, decision = "blocked", f"kill switch on {route.path}", None
            elif u[i] < 0.004:
                status, error = "error", "upstream returned 503"
            elif u[i] < 0.006:
                status, error = "timeout", "no response after 30000 ms"
            elif u[i] < 0.016:
                status, error, decision = "blocked", "blocked by gateway policy", "block"
            refusal = status == "ok" and refusal_u[i] < spec.refusal_rate
            tokens_in = int(
                route.mean_tokens_in
                * in_noise[i]
                * (3 if spike[i] and tenant == spike_tenant else 1)
            )
            if status != "ok":
                tokens_out, output, out_hash, finish = 0, None, "", "error"
            elif refusal:
                tokens_out = int(18 + 10 * out_noise[i])
                output, out_hash = pool["refusal"]
                finish = "stop"
            else:
                tokens_out = max(8, int(route.mean_tokens_out * spec.output_scale * out_noise[i]))
                k = min(len(pool["outputs"]), max(1, tokens_out // 22))
                output, out_hash = pool["outputs"][k - 1]
                finish = "length" if tokens_out >= spec.max_tokens else "stop"
                tokens_out = min(tokens_out, spec.max_tokens)
            latency = (ttft[i] + tokens_out * model.latency_per_token_ms) * lat_noise[i]
            if status == "timeout":
                latency = 30000.0
            cost = tokens_in / 1000 * model.input_per_1k + tokens_out / 1000 * model.output_per_1k
            fp = model.fingerprints[1 if t >= fp_switch else 0]
            variables = pool["variables"][q_i]
            content = tenant != hash_only
            reasons = '["pii.email_address"]' if decision == "block" else "[]"
            self._serial += 1
            rows.append(
                (
                    f"req_{self._prefix}{int(t * 1000):x}{self._serial:06x}",
                    int(t * 1000),
                    "production",
                    route.path,
                    self._tenants[tenant],
                    self._users[tenant][user_i[i]],
                    route.prompt,
                    spec.version,
                    model.name,
                    model.digest,
                    model.provider,
                    f'{{"temperature": {spec.temperature}, "top_p": 1.0, "max_tokens": '
                    f'{spec.max_tokens}, "seed": {seeds[i]}}}',
                    variables if content else None,
                    messages if content else "[]",
                    pool["retrieval"][q_i],
                    None,
                    output if content else None,
                    finish,
                    tokens_in,
                    tokens_out,
                    round(cost, 7),
                    round(latency, 1),
                    round(ttft[i], 1),
                    status,
                    error,
                    None
                    if decision is None
                    else f'{{"policy_version": "{POLICY_VERSION}", "decision": "{decision}", '
                    f'"reasons": {reasons}}}',
                    int(refusal),
                    fp,
                    f"v{spec.version}",
                    f"{trace[i, 0]:016x}{trace[i, 1]:016x}",
                    prompt_hash,
                    out_hash,
                )
            )
        return rows
