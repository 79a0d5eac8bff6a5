"""The replay engine: one request or a batch, against one target, stored.

Failures never escape a replay: a target that is down, slow, rate limiting or
answering nonsense gives a ``failed`` result with the connector's one-line
message; a record that cannot be replayed gives ``not_replayable`` with the
reason. Only refusals that concern the whole run raise: a production target
the profile does not allow, or a batch estimated above its budget.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.base import Completion, ReplayTarget
from connectors.errors import ConnectorError, NotFound
from connectors.records import PromptVersion, ReplayResult, RequestRecord
from connectors.support.redact import scrub
from console.core import clock, readonly
from console.core.errors import LlmdeckError
from console.core.session import Session
from console.replay import cost as costs
from console.replay import fidelity, store
from console.replay.request import NotReplayable, ReplayRequest, build_request


class ReplayRefused(LlmdeckError):
    """The replay is not allowed (production target, budget); nothing was sent."""


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay. Empty fields mean "as logged" / "the profile's default"."""

    target: str = ""  # a name in the profile's replay_targets; "" = the first one
    prompt_version: str = ""  # version or alias of the record's prompt to re-render with
    model: str = ""  # model override; default: the target's model, else the logged one
    repeat: int = 1
    seed: int | None = None  # replaces the logged seed
    per_replay_budget: float | None = None  # dollars; default: the profile's
    per_batch_budget: float | None = None


@dataclass
class BatchProgress:
    """Where a batch is: results so far by verdict, dollars spent, the last result."""

    batch_id: str
    total: int
    done: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    cost_usd: float = 0.0
    last: ReplayResult | None = None


@dataclass(frozen=True)
class BatchReport:
    batch_id: str
    results: tuple[ReplayResult, ...]
    cancelled: bool
    estimated_usd: float
    seconds: float


def default_target(session: Session) -> str:
    """The first replay target of the profile. Raises LlmdeckError when none."""
    names = list(session.profile.replay_targets)
    if not names:
        raise LlmdeckError(f"profile {session.profile.name!r} has no replay_targets")
    return names[0]


class Replayer:
    """Replays records of ``session`` with ``options``; results go to the workspace."""

    def __init__(
        self, session: Session, options: ReplayOptions, target: ReplayTarget | None = None
    ) -> None:
        if options.repeat < 1:
            raise LlmdeckError("--repeat must be at least 1")
        # Here, not in each command: the CLI and the Replays screen both
        # build a Replayer, so --read-only refuses replays in both.
        readonly.check_local(session, "replay")
        self.session = session
        self.options = options
        self.target_name = options.target or default_target(session)
        self.target = target or session.replay_target(self.target_name)
        if self.target.production and not session.profile.allow_production_replay:
            raise ReplayRefused(
                f"refused: replay target {self.target_name!r} is marked production and profile "
                f"{session.profile.name!r} does not set allow_production_replay"
            )
        self.settings = costs.settings(session.profile)
        self.per_replay = (
            self.settings.per_replay
            if options.per_replay_budget is None
            else options.per_replay_budget
        )
        self.per_batch = (
            self.settings.per_batch
            if options.per_batch_budget is None
            else options.per_batch_budget
        )
        self._versions: dict[tuple[str, str], PromptVersion | None] = {}

    # -- building ------------------------------------------------------------------
    def _version(self, prompt_id: str, ref: str, required: bool) -> PromptVersion | None:
        key = (prompt_id, ref)
        if key not in self._versions:
            registry = self.session.registry()
            try:
                if registry is None:
                    raise NotFound("no registry configured")
                self._versions[key] = registry.get(prompt_id, ref)
            except ConnectorError as exc:
                if required:
                    raise NotReplayable(
                        f"cannot re-render with {prompt_id or '?'}@{ref}: {exc}"
                    ) from None
                self._versions[key] = None
        return self._versions[key]

    def prepare(self, record: RequestRecord) -> ReplayRequest:
        """The request to send for ``record``. Raises NotReplayable."""
        version = logged = None
        if self.options.prompt_version:
            version = self._version(record.prompt_id, self.options.prompt_version, True)
            logged = self._version(record.prompt_id, record.prompt_version, False)
        model = self.options.model or getattr(self.target, "model", "") or record.model_name
        return build_request(
            record, model=model, version=version, logged_version=logged, seed=self.options.seed
        )

    def estimate(self, request: ReplayRequest, record: RequestRecord) -> costs.Estimate:
        return costs.estimate(request, record, self.settings.prices, self.options.repeat)

    # -- one replay ------------------------------------------------------------------
    def _result(
        self, record: RequestRecord, verdict: str, error: str, request: dict[str, Any]
    ) -> ReplayResult:
        return ReplayResult(
            replay_id=new_id("rp"),
            request_id=record.request_id,
            target=self.target_name,
            ts=clock.now(),
            request=request,
            output=None,
            verdict=verdict,
            # Nothing was sent: the version is the one this run asked for (the
            # logged one only when it asked for none), so an arm that asked for
            # v13 is never labelled with the v14 its requests were logged with.
            prompt_version=str(
                request.get("prompt_version")
                or self.options.prompt_version
                or record.prompt_version
            ),
            error=scrub(error),  # stored in replays.error: no secret, whatever raised it
        )

    async def replay(
        self, record: RequestRecord, *, batch_id: str = "", strict: bool = False
    ) -> ReplayResult:
        """Replay ``record`` (``repeat`` times) and store the result.

        With ``strict`` a per-replay budget refusal raises ReplayRefused (the
        CLI and the ``r`` key); otherwise it is a ``not_replayable`` result.
        """
        try:
            request = self.prepare(record)
            costs.check_replay(self.estimate(request, record), self.per_replay)
        except costs.BudgetExceeded as exc:
            if strict:
                raise ReplayRefused(str(exc)) from None
            result = self._result(record, fidelity.NOT_REPLAYABLE, str(exc), {})
        except NotReplayable as exc:
            result = self._result(record, fidelity.NOT_REPLAYABLE, str(exc), {})
        else:
            result = await self.send(record, request)
        store.save(self.session.store(), result, batch_id)
        return result

    async def send(self, record: RequestRecord, request: ReplayRequest) -> ReplayResult:
        """Send a prepared request and judge it (not stored)."""
        sent = {**request.to_dict(), "repeat": self.options.repeat}
        completions: list[Completion] = []
        try:
            for _ in range(self.options.repeat):
                completions.append(
                    await self.target.complete(
                        request.messages, request.body_params(), request.model
                    )
                )
        except ConnectorError as exc:
            return self._result(record, fidelity.FAILED, str(exc), sent)
        outputs = [c.text for c in completions]
        sent["outputs"] = outputs
        sent["answered_by"] = completions[0].model
        if record.output is None:
            # The logged request got no answer (error, timeout, blocked): an answer
            # now is a different outcome, with no text to score against.
            verdict = fidelity.Fidelity(fidelity.DIFFERENT, 0.0, len({o.strip() for o in outputs}))
        else:
            verdict = fidelity.judge(record.output, outputs, self.settings.similar_threshold)
        tokens_in = sum(c.tokens_in for c in completions)
        tokens_out = sum(c.tokens_out for c in completions)
        return ReplayResult(
            replay_id=new_id("rp"),
            request_id=record.request_id,
            target=self.target_name,
            ts=clock.now(),
            request=sent,
            output=outputs[0],
            verdict=verdict.verdict,
            similarity=verdict.similarity if record.output is not None else None,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=costs.cost(self.settings.prices, request.model, tokens_in, tokens_out),
            latency_ms=sum(c.latency_ms for c in completions) / len(completions),
            system_fingerprint=completions[0].system_fingerprint,
            distinct_outputs=verdict.distinct_outputs,
            prompt_version=request.prompt_version,
            error=None
            if record.output is not None
            else f"logged status {record.status}: no logged output to compare with",
        )

    # -- batches -------------------------------------------------------------------
    async def batch(
        self,
        records: Iterable[RequestRecord],
        *,
        concurrency: int = 4,
        progress: Callable[[BatchProgress], None] | None = None,
        cancel: CancelToken | None = None,
        batch_id: str | None = None,
    ) -> BatchReport:
        """Replay ``records`` with at most ``concurrency`` in flight, storing each
        result as it arrives.

        The whole batch is estimated first: above the per-batch budget it raises
        ReplayRefused and sends nothing. ``cancel.is_set()`` stops it: requests
        in flight are abandoned and nothing more is sent (``cancelled`` True).
        """
        if concurrency < 1:
            raise LlmdeckError("concurrency must be at least 1")
        started = time.perf_counter()
        batch_id = batch_id or new_id("b")
        records = list(records)
        state = BatchProgress(batch_id, len(records))
        conn = self.session.store()
        planned: list[tuple[RequestRecord, ReplayRequest]] = []
        skipped: list[ReplayResult] = []
        total_usd = 0.0
        for record in records:
            try:
                request = self.prepare(record)
                est = self.estimate(request, record)
                costs.check_replay(est, self.per_replay)
            except (NotReplayable, costs.BudgetExceeded) as exc:
                skipped.append(self._result(record, fidelity.NOT_REPLAYABLE, str(exc), {}))
                continue
            total_usd += est.usd
            planned.append((record, request))
        try:
            costs.check_batch(total_usd, self.per_batch, len(planned))
        except costs.BudgetExceeded as exc:
            raise ReplayRefused(str(exc)) from None
        results: list[ReplayResult] = []

        def done(result: ReplayResult) -> None:
            store.save(conn, result, batch_id)
            results.append(result)
            state.done += 1
            state.counts[result.verdict] += 1
            state.cost_usd += result.cost_usd
            state.last = result
            if progress:
                progress(state)

        for result in skipped:
            done(result)
        semaphore = asyncio.Semaphore(concurrency)

        async def one(record: RequestRecord, request: ReplayRequest) -> None:
            async with semaphore:
                if cancel is not None and cancel.is_set():
                    return
                done(await self.send(record, request))

        tasks = [asyncio.ensure_future(one(r, q)) for r, q in planned]
        cancelled = await _wait(tasks, cancel)
        return BatchReport(
            batch_id, tuple(results), cancelled, total_usd, time.perf_counter() - started
        )

    async def aclose(self) -> None:
        close = getattr(self.target, "aclose", None)
        if close is not None:
            await close()


async def _wait(tasks: Sequence[asyncio.Future[None]], cancel: CancelToken | None) -> bool:
    """Wait for ``tasks``; on cancel abandon the rest. True when cancelled."""
    pending = set(tasks)
    try:
        while pending:
            # A short timeout so a cancel from another thread is seen promptly.
            _, pending = await asyncio.wait(pending, timeout=0.1)
            if cancel is not None and cancel.is_set() and pending:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return True
    except asyncio.CancelledError:
        for task in pending:
            task.cancel()
        raise
    for task in tasks:
        task.result()  # re-raise a bug in the engine rather than hiding it
    return cancel is not None and cancel.is_set()


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
