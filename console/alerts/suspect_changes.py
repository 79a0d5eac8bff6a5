"""The changes that may have caused an alert, each with the traffic it touched.

Two sources. The change log: the workspace ``history`` table keeps full
snapshots of flag states and alias maps, so a change is the difference
between two snapshots and says *which* variant's weight rose or *which*
version an alias moved to; the flags connector says what a flag steers
(``metadata.route``, ``prompt``, ``model``) and what each variant serves; the
flag backend's own event log adds the changes made outside llmdeck. And the
requests themselves: a prompt version, model, model digest, system
fingerprint, safety policy version or retrieval index snapshot that serves
the scope in the window but did not in the look-back before it entered
traffic at its first request.

Each candidate carries a ``Match`` over the cells' dimensions (which of the
scope's requests it touched), what to diff, and the ``Change`` that undoes it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from connectors.records import Flag
from connectors.workspace.store import from_ms, ts_ms
from console.actions.changes import (
    BlockModel,
    Change,
    MoveAlias,
    RollbackRoute,
    SetEnabled,
    SetWeights,
)
from console.alerts.suspect_traffic import DIM, Cell, Scope

# dimension index -> the values that match; () matches every request of the
# scope (a change that touched all of it), None none of them.
Match = tuple[tuple[int, frozenset[str]], ...] | None
# Kinds in the order one is preferred as the face of several that touched
# the same traffic at the same time (the one with the most direct undo first).
KINDS = ("flag", "alias", "prompt_version", "model", "digest", "fingerprint", "policy", "index")
# A value first seen this close to the window's start is taken as already
# serving (not probed against the look-back): it cannot be told from traffic
# that was there all along, and probing costs a pass over the look-back.
EDGE = timedelta(minutes=5)
# A flag change in the backend's own log this close to a history snapshot of
# the same flag is that snapshot (llmdeck wrote both).
SAME_CHANGE = timedelta(minutes=2)
# A sampled value's first request is later than its real first by up to the
# sampling interval (seconds at the volumes sampling is used for).
SAMPLE_SLACK = timedelta(minutes=10)
NO_UNDO = {
    "digest": "the model's digest changed at its provider or serving stack",
    "fingerprint": "the provider changed its system fingerprint",
    "policy": "the gateway policy is deployed outside llmdeck",
    "index": "the retrieval index is built outside llmdeck",
}


@dataclass(frozen=True)
class Candidate:
    kind: str
    ts: datetime
    what: str
    label: str  # the short name that opens the evidence line ("v14 rollout")
    match: Match
    who: str = ""
    diff: tuple[str, ...] | None = None
    rollback: Change | None = None
    no_rollback: str = ""  # why there is none
    related: tuple[str, ...] = field(default=())

    def touches(self, cell: Cell) -> bool:
        if self.match is None:
            return False
        return all(cell.dims[i] in values for i, values in self.match)


def matching(**dims: Sequence[str] | str) -> Match:
    return tuple((DIM[d], frozenset([v] if isinstance(v, str) else v)) for d, v in dims.items())


def version_label(version: str) -> str:
    return f"{version if version.startswith('v') else 'v' + version} rollout"


@dataclass(frozen=True)
class Context:
    """What every candidate is judged against."""

    scope: Scope
    start: datetime  # candidates changed in [start, end]
    end: datetime
    flags: Mapping[str, Flag]
    environment: str
    who: Mapping[tuple[str, int], str]  # (audit target, ts ms) -> who, for done entries

    def route(self) -> str:
        return self.scope.value if self.scope.column == "route" else ""

    def release_flag(self) -> bool:
        """A flag routes the scope's route: RollbackRoute can undo a prompt version."""
        route = self.route()
        return bool(route) and any(
            f.metadata.get("route") == route and not f.is_kill_switch for f in self.flags.values()
        )

    def kill_switch(self, model: str) -> bool:
        return any(
            f.is_kill_switch
            and (f.metadata.get("model") == model or f.key in (model, f"kill-{model}"))
            for f in self.flags.values()
        )

    def audit_who(self, target: str, ts: datetime) -> str:
        ms = ts_ms(ts)
        return next(
            (w for (t, at), w in self.who.items() if t == target and abs(at - ms) <= 60_000), ""
        )


# -- the change log ----------------------------------------------------------


def from_history(rows: Sequence[tuple[int, str, str, str]], ctx: Context) -> list[Candidate]:
    """Candidates from ``history`` rows (ts ms, kind, key, state JSON), oldest
    first per key: every snapshot in the window that differs from the one before."""
    out: list[Candidate] = []
    last: dict[tuple[str, str], Any] = {}
    lo, hi = ts_ms(ctx.start), ts_ms(ctx.end)
    for ts, kind, key, raw in rows:
        after = orjson.loads(raw)
        before = last.get((kind, key))
        seen = (kind, key) in last
        last[(kind, key)] = after
        if not seen or not lo <= ts <= hi or not isinstance(after, dict):
            continue
        at = from_ms(ts)
        if kind == "flag":
            c = _flag(key, before if isinstance(before, dict) else {}, after, at, ctx)
            out += [c] if c else []
        elif kind == "alias":
            out += _aliases(key, before if isinstance(before, dict) else {}, after, at, ctx)
    return out


def _weights(state: Mapping[str, Any]) -> dict[str, float]:
    w = state.get("weights")
    return {str(k): float(v) for k, v in w.items()} if isinstance(w, dict) else {}


def _flag(
    key: str, before: Mapping[str, Any], after: Mapping[str, Any], at: datetime, ctx: Context
) -> Candidate | None:
    wb, wa = _weights(before), _weights(after)
    on_b, on_a = bool(before.get("enabled")), bool(after.get("enabled"))
    moved = [n for n in sorted(set(wb) | set(wa)) if abs(wa.get(n, 0) - wb.get(n, 0)) > 0.01]
    if not moved and on_a == on_b:
        return None
    parts = [f"{n} {wb.get(n, 0):g}%→{wa.get(n, 0):g}%" for n in moved]
    if on_a != on_b:
        parts.insert(0, "on" if on_a else "off")
    what = f"flag {key} " + ", ".join(parts)
    who = ctx.audit_who(key, at)
    flag = ctx.flags.get(key)
    rollback: Change = SetWeights(key, wb) if moved else SetEnabled(key, on_b)
    if flag is not None and flag.is_kill_switch:
        return Candidate(
            "flag", at, what, f"flag {key}", _kill_match(flag, ctx), who, None, rollback
        )
    rising = [n for n in moved if wa.get(n, 0) > wb.get(n, 0)] if on_a and on_b else []
    if on_a != on_b and flag is not None:
        env = flag.env(ctx.environment) or (flag.environments[0] if flag.environments else None)
        default = env.default_variant if env else None
        rising = [n for n, w in wa.items() if w > 0] if on_a else ([default] if default else [])
    if not on_a and not on_b:
        # The weights of a flag that stayed off: nothing it serves moved.
        return Candidate("flag", at, what, f"flag {key}", None, who, None, rollback)
    if flag is None:
        # What it steers is unknown (no flags connector, or the flag is gone):
        # its variants, as the requests name them, are the best guess.
        return Candidate(
            "flag", at, what, f"flag {key}", matching(flag_variant=rising), who, None, rollback
        )
    route, prompt = flag.metadata.get("route", ""), flag.metadata.get("prompt", "")
    if ctx.scope.column == "route" and route and route != ctx.scope.value:
        return Candidate("flag", at, what, f"flag {key}", None, who, None, rollback)
    env = flag.env(ctx.environment) or (flag.environments[0] if flag.environments else None)
    values = {v.name: str(v.value) for v in env.variants} if env else {}
    where: dict[str, Sequence[str] | str] = {"route": route} if route else {}
    if prompt and rising and all(n in values for n in rising):
        served = [values[n] for n in rising]
        where |= {"prompt_id": prompt, "prompt_version": served}
        falling = [n for n in moved if wa.get(n, 0) < wb.get(n, 0) and n in values]
        top = max(rising, key=lambda n: wa.get(n, 0) - wb.get(n, 0))
        diff = None
        if falling:
            low = min(falling, key=lambda n: wa.get(n, 0) - wb.get(n, 0))
            diff = ("prompt", prompt, values[low], values[top])
        return Candidate(
            "flag", at, what, version_label(values[top]), matching(**where), who, diff, rollback
        )
    where |= {"flag_variant": rising} if rising else {}
    return Candidate("flag", at, what, f"flag {key}", matching(**where), who, None, rollback)


def _kill_match(flag: Flag, ctx: Context) -> Match:
    """A kill switch touches all of the scope's traffic when it steers the scope's
    route or a model (its traffic moves to the others); none on another route."""
    route = flag.metadata.get("route", "")
    if route and ctx.scope.column == "route" and route != ctx.scope.value:
        return None
    return ()


def _aliases(
    name: str, before: Mapping[str, Any], after: Mapping[str, Any], at: datetime, ctx: Context
) -> list[Candidate]:
    out = []
    for alias, version in sorted(after.items()):
        old = before.get(alias)
        if old == version:
            continue
        version = str(version)
        what = f"{name} alias {alias} " + (f"{old}→{version}" if old else f"added at {version}")
        if old:
            rollback: Change | None = MoveAlias(name, alias, str(old))
            why = ""
        elif ctx.release_flag():
            rollback, why = RollbackRoute(ctx.route()), ""
        else:
            rollback, why = (
                None,
                f"the {alias} alias is new: there is no version to move it back to",
            )
        out.append(
            Candidate(
                "alias",
                at,
                what,
                f"{alias} alias → {version}",
                matching(prompt_id=name, prompt_version=version),
                ctx.audit_who(f"{name}:{alias}", at),
                ("prompt", name, str(old) if old else "", version),
                rollback,
                why,
            )
        )
    return out


def from_flag_events(
    events: Sequence[Any], covered: Sequence[Candidate], ctx: Context
) -> list[Candidate]:
    """Candidates from the flag backend's own log (``ChangeEvent``), for the
    changes no history snapshot holds. The event says that a flag changed,
    not how, so it touched all the traffic the flag steers on the scope."""
    out = []
    for e in events:
        if not ctx.start <= e.ts <= ctx.end:
            continue
        if any(
            c.kind == "flag"
            and c.what.startswith(f"flag {e.target} ")
            and abs(c.ts - e.ts) <= SAME_CHANGE
            for c in covered
        ):
            continue
        flag = ctx.flags.get(e.target)
        route = flag.metadata.get("route", "") if flag else ""
        off_scope = ctx.scope.column == "route" and bool(route) and route != ctx.scope.value
        out.append(
            Candidate(
                "flag",
                e.ts,
                f"flag {e.target} {e.what} ({e.source})",
                f"flag {e.target}",
                None if off_scope or flag is None else (),
                e.who,
                None,
                None,
                f"{e.source} logs that {e.target} changed, not its state before",
            )
        )
    return out


# -- the requests --------------------------------------------------------------


def _dominant(cells: Sequence[Cell], dim: int, exclude: str, **where: str) -> str:
    counts: dict[str, int] = {}
    for c in cells:
        if c.dims[dim] != exclude and all(c.dims[DIM[k]] == v for k, v in where.items()):
            counts[c.dims[dim]] = counts.get(c.dims[dim], 0) + c.agg.n
    counts.pop("", None)
    return max(counts, key=lambda k: counts[k]) if counts else ""


def first_seen(cells: Sequence[Cell], dims: Sequence[str]) -> dict[tuple[str, ...], int]:
    """The first request (ms) of every non-empty combination of ``dims``."""
    idx = [DIM[d] for d in dims]
    out: dict[tuple[str, ...], int] = {}
    for c in cells:
        key = tuple(c.dims[i] for i in idx)
        if all(key) and (key not in out or c.first < out[key]):
            out[key] = c.first
    return out


def fresh_values(
    sample: Mapping[str, Mapping[str, int]],
    seen: Callable[[str, str], bool],
    window_start: datetime,
    until: datetime,
) -> dict[str, set[str]]:
    """The sampled values of non-rollup dimensions that are new: first sampled
    past ``EDGE`` into the window, by ``until`` (with the slack of a sample's
    first request being later than the real first), and not ``seen(dim, value)``
    in the look-back."""
    lo, hi = ts_ms(window_start + EDGE), ts_ms(until + SAMPLE_SLACK)
    return {
        dim: {v for v, first in values.items() if lo <= first <= hi and not seen(dim, v)}
        for dim, values in sample.items()
    }


def from_traffic(
    cells: Sequence[Cell],
    ctx: Context,
    served: set[tuple[str, str, str]],
    fresh: Mapping[str, Collection[str]],
    window_start: datetime,
) -> list[Candidate]:
    """Values that entered the scope's traffic in [ctx.start, ctx.end].

    ``served`` holds the (prompt, version, model) of the look-back (rollups);
    ``fresh`` the new values of the other dimensions (``fresh_values``), whose
    first request the cells then tell exactly.
    """
    lo, hi, edge = ts_ms(ctx.start), ts_ms(ctx.end), ts_ms(window_start + EDGE)
    out: list[Candidate] = []
    old_versions = {(p, v) for p, v, _ in served}
    for (prompt, version), ms in first_seen(cells, ("prompt_id", "prompt_version")).items():
        if lo <= ms <= hi and (prompt, version) not in old_versions:
            before = _dominant(cells, DIM["prompt_version"], version, prompt_id=prompt)
            undo = RollbackRoute(ctx.route()) if ctx.release_flag() else None
            route = ctx.route() or "this traffic"
            out.append(
                Candidate(
                    "prompt_version",
                    from_ms(ms),
                    f"{prompt} v{version.removeprefix('v')} entered traffic on {ctx.scope.shown}",
                    version_label(version),
                    matching(prompt_id=prompt, prompt_version=version),
                    "",
                    ("prompt", prompt, before, version) if before else None,
                    undo,
                    "" if undo else f"no flag routes {route}: move its alias in the Registry",
                )
            )
    old_models = {m for _, _, m in served}
    for (model,), ms in first_seen(cells, ("model_name",)).items():
        if lo <= ms <= hi and model not in old_models:
            before = _dominant(cells, DIM["model_name"], model)
            has_switch = ctx.kill_switch(model)
            out.append(
                Candidate(
                    "model",
                    from_ms(ms),
                    f"model {model} entered traffic on {ctx.scope.shown}",
                    f"model {model}",
                    matching(model_name=model),
                    "",
                    ("model", before, model) if before else None,
                    BlockModel(model) if has_switch else None,
                    "" if has_switch else f"no kill switch blocks {model}",
                )
            )
    for dim, kind, name in (
        ("model_digest", "digest", "digest"),
        ("system_fingerprint", "fingerprint", "system fingerprint"),
        ("policy", "policy", "safety policy"),
        ("snapshot", "index", "retrieval index"),
    ):
        firsts = first_seen(cells, (dim,))
        for value in sorted(fresh.get(dim, ())):
            ms = firsts.get((value,), -1)
            if not lo <= ms <= hi or ms < edge:
                continue
            model = _dominant(cells, DIM["model_name"], "", **{dim: value})
            of = f"{model} " if kind in ("digest", "fingerprint") and model else ""
            out.append(
                Candidate(
                    kind,
                    from_ms(ms),
                    f"{of}{name} {value} entered traffic on {ctx.scope.shown}",
                    f"{of}{name} {value[:24]}",
                    matching(**{dim: value}),
                    no_rollback=NO_UNDO[kind],
                )
            )
    return out
