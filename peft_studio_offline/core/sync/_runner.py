"""One sync run: claim batches, send them with bounded concurrency, record the outcomes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus, OperationType
from peft_studio_offline.core.errors import OperationNotFoundError
from peft_studio_offline.core.events import EventSource
from peft_studio_offline.core.handlers.base import (
    HandlerContext,
    MissingSettingError,
    OperationHandler,
    Outcome,
    OutcomeKind,
)
from peft_studio_offline.core.masking import mask_secrets, mask_text, payload_secrets
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.sealing import KEY_SETTING
from peft_studio_offline.core.sync._state import RunState
from peft_studio_offline.core.sync.conflicts import drop_local_change, resend_payload
from peft_studio_offline.core.sync.merge import three_way_merge
from peft_studio_offline.core.sync.progress import RunTally, SyncEvent

if TYPE_CHECKING:
    from peft_studio_offline.core.queue import OfflineQueueManager

log = logging.getLogger(__name__)

DELETED_WHILE_SENT = "It was deleted while its request was being sent."

# A success waits up to this long (seconds) to share its commit with others: one commit per
# success cost the writer a transaction each, and each of its statements must win the GIL
# back from the busy event loop. Until it is written, an operation stays in progress; were
# the app killed meanwhile, it is sent again with the same idempotency key.
RECORD_WINDOW = 0.01

# Operations taken at once for coalescing handlers: an MLflow log-batch holds 1,000 metrics.
COALESCING_CLAIM = 1000


@dataclass(slots=True)
class _Group:
    """Operations sent in one handler call (one, or a coalesced batch)."""

    handler: OperationHandler
    operations: list[Operation]
    batch_key: Hashable | None = None


@dataclass(slots=True)
class _Chain:
    """Groups that must run one after the other (same resource), in queue order."""

    lane: str | None
    groups: list[_Group] = field(default_factory=list)

    def add(self, handler: OperationHandler, operation: Operation, batch_key: Hashable) -> None:
        last = self.groups[-1] if self.groups else None
        if (
            batch_key is not None
            and last is not None
            and last.batch_key == batch_key
            and last.handler is handler
        ):
            last.operations.append(operation)
        else:
            self.groups.append(_Group(handler, [operation], batch_key))


class RunServices(Protocol):
    """What a run uses of its engine (a ``SyncEngine``): the queue, the handlers, clients
    and contexts, the events to publish on, and the state runs share."""

    @property
    def queue(self) -> OfflineQueueManager: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def state(self) -> RunState: ...

    @property
    def events(self) -> EventSource[SyncEvent]: ...

    def handled_types(self) -> list[OperationType]: ...

    def handler_for(self, operation_type: OperationType | str) -> OperationHandler | None: ...

    def worker_clients(self) -> list[httpx.AsyncClient]: ...

    def context_for(self, operation: Operation, client: httpx.AsyncClient) -> HandlerContext: ...


class Runner:
    """Carries out one run for its engine; ``stop()`` ends it promptly from any callback."""

    def __init__(self, engine: RunServices, tally: RunTally) -> None:
        self.engine = engine
        self.state = engine.state
        self.queue = engine.queue
        self.tally = tally
        self.held: set[int] = set()  # claimed and not yet settled
        self.sent: set[int] = set()  # held ones whose request has begun
        self.skip: set[int] = set()  # not to be claimed again in this run
        self.done = 0
        self.current: Operation | None = None
        self.stop_reason: str | None = None
        self._units: asyncio.Queue[_Chain | None] = asyncio.Queue()
        self._settled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._unrecorded: list[tuple[Operation, Outcome]] = []  # successes not yet written
        self._recorder: asyncio.Task[None] | None = None
        # Enough successes wait to be written at once (the feeder needs them settled).
        self._record_at = max(1, engine.batch_size // 4)
        self._record_now = asyncio.Event()
        self._counted = False

    # ------------------------------------------------------------------ control

    def stop(self, reason: str) -> None:
        if self.stop_reason is not None:
            return  # cancelling twice could interrupt the clean-up
        self.stop_reason = reason
        if self._task is not None:
            self._task.cancel()

    async def run(self) -> None:
        """Run to the end (nothing more is ready) or until stopped; never leaves work taken."""
        self._task = asyncio.current_task()
        if self.stop_reason is not None:
            self.tally.stopped = True
            return
        workers = [
            asyncio.create_task(self._worker(client), name=f"sync-worker-{i}")
            for i, client in enumerate(self.engine.worker_clients())
        ]
        cancelled_from_outside = False
        try:
            await self._feed()
        except asyncio.CancelledError:
            self.tally.stopped = True
            cancelled_from_outside = self.stop_reason is None
        finally:
            await self._wind_down(workers)
        if cancelled_from_outside:
            raise asyncio.CancelledError
        if self._failure is not None:
            raise self._failure

    async def _wind_down(self, workers: list[asyncio.Task[None]]) -> None:
        """Workers end; what was sent is recorded; what was not is put back as pending."""
        for _ in workers:
            self._units.put_nowait(None)
        if self.tally.stopped or self._failure is not None:
            for worker in workers:
                worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._record_at = 0  # nothing more will come: write what waits at once
        self._record_now.set()
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)
        await self._give_back(self.held, self.stop_reason or "the sync was cancelled")

    async def _feed(self) -> None:
        engine = self.engine
        low_water = max(1, engine.batch_size // 2)
        while self._failure is None:
            while len(self.held) > low_water and self._failure is None:
                await self._wait_settled()
            if self._failure is not None:
                return
            batch = await self._claim()
            if batch and not self._counted:
                # The run's total, known before anything is sent: every operation due now.
                self._counted = True
                self.tally.due = len(batch) + await self._count_rest()
            if not batch:
                if not self.held or self._failure is not None:
                    return
                await self._wait_settled()
                continue
            self._emit(None)
            for chain in self._chains(batch):
                self._units.put_nowait(chain)
            if self.tally.trigger == "auto" and len(batch) < low_water:
                # No backlog (or its end): an automatic run ends with what it has, so that
                # the next one gathers what trickles in meanwhile (``gather``) into full
                # requests instead of one per operation logged.
                while self.held and self._failure is None:
                    await self._wait_settled()
                return

    async def _claim(self) -> list[Operation]:
        """One round's operations: ``batch_size`` of them, and for handlers that coalesce
        many operations into one request (metrics), enough to fill such requests."""
        engine = self.engine
        types = engine.handled_types()
        if not types:
            return []
        excluded = self.skip | self.state.deferred_ids()
        coalescing = [t for t in types if hasattr(engine.handler_for(t), "handle_batch")]
        self.state.last_claim_at = time.time()
        batch = self._hold_taken(
            await self.queue.claim(engine.batch_size, operation_types=types, exclude_ids=excluded)
        )
        if coalescing and any(op.operation_type in coalescing for op in batch):
            more = COALESCING_CLAIM - len(batch)
            if more > 0:
                batch += self._hold_taken(
                    await self.queue.claim(
                        more, operation_types=coalescing, exclude_ids=excluded | self.held
                    )
                )
        unopened = self.queue.take_unopened()
        if unopened:  # claimed without their key: left waiting by the queue, as for a setting
            self.skip.update(unopened)
            self.tally.waiting += len(unopened)
            self.tally.waiting_for.add(KEY_SETTING)
        # One that failed (or was held back) while the claim was on its way waits for a
        # later run, as if the claim had left it out: it goes back untouched.
        late = {op.id for op in batch if op.id in self.skip or self.state.deferred_until(op.id)}
        if late:
            # Not part of the run at all: the give-back's count of released cancels out.
            self.tally.claimed -= len(late)
            self.tally.released -= len(late)
            await self._give_back(late, "already tried in this run")
            batch = [op for op in batch if op.id not in late]
        return batch

    def _hold_taken(self, batch: list[Operation]) -> list[Operation]:
        """Keep track of what a claim took the moment it returns: a stop at any later point
        of the run puts back what is held, and only that."""
        self.held.update(op.id for op in batch)
        self.tally.claimed += len(batch)
        return batch

    async def _count_rest(self) -> int:
        """Due operations the first claim left for later batches (those it may take)."""
        engine = self.engine
        return await self.queue.count_due(
            operation_types=engine.handled_types(),
            exclude_ids=self.skip | self.state.deferred_ids(),
        )

    @property
    def total(self) -> int:
        """What the run will have handled at its end, as far as is known now."""
        tally = self.tally
        return max(max(tally.due, tally.claimed) - tally.released, self.done)

    async def _wait_settled(self) -> None:
        self._settled.clear()
        await self._settled.wait()

    def _chains(self, batch: Iterable[Operation]) -> list[_Chain]:
        """Same-resource operations form one chain; coalescible ones form groups."""
        chains: dict[Hashable, _Chain] = {}
        for op in batch:
            handler = self.engine.handler_for(op.operation_type)
            assert handler is not None  # claim only returns handled types
            lane = op.resource_key or _call_optional(handler, "resource_key", op.payload)
            batch_key = _call_optional(handler, "batch_key", op)
            if lane is not None:
                key: Hashable = ("lane", lane)
            elif batch_key is not None:
                key = ("batch", str(op.operation_type), batch_key)
            else:
                key = ("op", op.id)
            chain = chains.setdefault(key, _Chain(lane if isinstance(lane, str) else None))
            chain.add(handler, op, batch_key)
        return list(chains.values())

    # ------------------------------------------------------------------ workers

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while True:
            chain = await self._units.get()
            if chain is None:
                return
            try:
                async with self.state.lane(chain.lane):
                    await self._run_chain(chain, client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the queue itself failed: end the run, report it
                log.exception("The sync run failed while recording an outcome")
                if self._failure is None:
                    self._failure = exc
                self._settled.set()
                return

    async def _run_chain(self, chain: _Chain, client: httpx.AsyncClient) -> None:
        lane = chain.lane
        if lane is not None and await self._held_up(lane, chain):
            return
        for index, group in enumerate(chain.groups):
            last = index == len(chain.groups) - 1
            if await self._run_group(group, client, detach=last) or lane is None:
                continue
            first = group.operations[0].id
            until = await self._due_again(first)
            if until is None:
                continue  # failed for good: it no longer holds up the others
            # Later changes to the same resource wait for this one, in this run and later.
            self.state.lane_blockers[lane] = first
            rest = [op.id for later in chain.groups[index + 1 :] for op in later.operations]
            await self._hold(rest, until, f"operation {first} on the same target goes first")
            return
        if lane is not None:
            self.state.lane_blockers.pop(lane, None)

    async def _held_up(self, lane: str, chain: _Chain) -> bool:
        """True (and the chain given back) while an earlier change to its resource waits."""
        blocker = self.state.lane_blockers.get(lane)
        ids = [op.id for group in chain.groups for op in group.operations]
        if blocker is None or blocker in ids or blocker > min(ids):
            return False
        until = await self._due_again(blocker)
        if until is None:
            self.state.lane_blockers.pop(lane, None)
            return False
        await self._hold(ids, until, f"operation {blocker} on the same target goes first")
        return True

    async def _due_again(self, op_id: int) -> float | None:
        """When an unfinished operation may run again; None when it is finished."""
        op = await self.queue.get_operation(op_id)
        if op is None or op.status.is_final:
            return None
        now = time.time()
        if op.status is OperationStatus.PENDING:
            due = op.next_attempt_at.timestamp() if op.next_attempt_at else now
            return max(due, self.state.deferred_until(op_id) or now)
        if op.status is OperationStatus.CONFLICT:
            return now + self.state.idle_poll  # until the user decides
        return now + 1.0  # being sent by another process

    async def _hold(self, ids: list[int], until: float, reason: str) -> None:
        self.state.defer(ids, until)
        self.skip.update(ids)
        await self._give_back(ids, reason)

    async def _run_group(
        self, group: _Group, client: httpx.AsyncClient, *, detach: bool = False
    ) -> bool:
        """Send one group; True when every operation in it completed.

        With ``detach``, a success is recorded while the worker moves on to its next
        request (nothing in its chain waits on it): waiting for each commit would cost a
        worker a commit's latency per request.
        """
        first = group.operations[0]
        context = self.engine.context_for(first, client)
        try:
            host = _call_optional(group.handler, "target", first, context)
        except MissingSettingError:
            host = None  # nowhere to send it yet: the attempt says so
        host = host if isinstance(host, str) else None
        paused_until = self.state.breaker.paused_until(host)
        if paused_until is not None:
            ids = [op.id for op in group.operations]
            self.state.defer(ids, paused_until)
            self.tally.held_back += len(ids)
            self.tally.paused_hosts.add(str(host))
            await self._give_back(ids, f"the host {host} is paused after repeated failures")
            self._emit(None)
            return False
        self.current = first
        self._emit(first)
        self.sent.update(op.id for op in group.operations)
        if len(group.operations) == 1:
            outcomes = [await self._attempt(group.handler, first, context)]
        else:
            outcomes = await self._attempt_batch(group, context)
        outcomes = [_masked(op, o) for op, o in zip(group.operations, outcomes, strict=True)]
        # One request (or one coalesced request) is one data point for the breaker; an
        # operation waiting for a setting sent nothing and says nothing about the host.
        sent = [outcome for outcome in outcomes if outcome.waiting_for is None]
        if any(outcome.kind is OutcomeKind.RETRY for outcome in sent):
            self.state.breaker.record_failure(host)
        elif sent:
            self.state.breaker.record_success(host)
        all_done = True
        for op, outcome in zip(group.operations, outcomes, strict=True):
            op_context = context if op is first else self.engine.context_for(op, client)
            if detach and outcome.kind is OutcomeKind.DONE:
                self._record_later(op, outcome)
                continue
            status = await self._settle(group.handler, op, outcome, op_context)
            all_done = all_done and status is OperationStatus.COMPLETED
        return all_done

    async def _attempt(
        self, handler: OperationHandler, op: Operation, context: HandlerContext
    ) -> Outcome:
        if op.problem:
            return Outcome.failed(f"This operation cannot be read: {op.problem}.")
        try:
            outcome = await handler.handle(op, context)
        except asyncio.CancelledError:
            raise
        except MissingSettingError as exc:
            return Outcome.waiting(str(exc), exc.setting)
        except Exception as exc:
            log.warning(
                "The %s handler raised on operation %d", op.operation_type, op.id, exc_info=True
            )
            return Outcome.retry(f"The handler raised {type(exc).__name__}: {exc}")
        return _as_outcome(outcome)

    async def _attempt_batch(self, group: _Group, context: HandlerContext) -> list[Outcome]:
        send = getattr(group.handler, "handle_batch", None)
        assert send is not None
        try:
            outcomes = list(await send(list(group.operations), context))
        except asyncio.CancelledError:
            raise
        except MissingSettingError as exc:
            outcomes = [Outcome.waiting(str(exc), exc.setting)]
        except Exception as exc:
            log.warning(
                "The %s batch handler raised", group.operations[0].operation_type, exc_info=True
            )
            outcomes = [Outcome.retry(f"The handler raised {type(exc).__name__}: {exc}")]
        if len(outcomes) != len(group.operations):
            if len(outcomes) == 1:  # one answer for the whole request
                return [_as_outcome(outcomes[0])] * len(group.operations)
            message = "The batch handler answered the wrong number of outcomes."
            return [Outcome.retry(message)] * len(group.operations)
        return [_as_outcome(o) for o in outcomes]

    # ----------------------------------------------------------------- outcomes

    def _record_later(self, op: Operation, outcome: Outcome) -> None:
        self._unrecorded.append((op, outcome))
        if len(self._unrecorded) >= self._record_at:
            self._record_now.set()
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_successes())

    async def _record_successes(self) -> None:
        """Write waiting successes, many to a commit, until none wait (see RECORD_WINDOW)."""
        while self._unrecorded:
            if len(self._unrecorded) < self._record_at:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._record_now.wait(), RECORD_WINDOW)
            self._record_now.clear()
            batch, self._unrecorded = self._unrecorded, []
            details = {op.id: outcome.details for op, outcome in batch if outcome.details}
            try:
                await self.queue.mark_completed_many([op.id for op, _ in batch], details=details)
            except Exception as exc:  # left held: the wind-down puts them back as pending
                log.exception("The sync run failed while recording an outcome")
                if self._failure is None:
                    self._failure = exc
                self._settled.set()
                return
            for op, _ in batch:
                self.tally.completed += 1
                self._finish(op)

    async def _settle(
        self,
        handler: OperationHandler,
        op: Operation,
        outcome: Outcome,
        context: HandlerContext,
        resolved: bool = False,
    ) -> OperationStatus:
        """Record one outcome in the queue; returns the operation's status after it."""
        try:
            return await self._record_outcome(handler, op, outcome, context, resolved)
        except OperationNotFoundError:
            # Deleted while its request was out: there is nothing left to record it on.
            log.info("Operation %d was deleted while it was being sent", op.id)
            if outcome.kind is OutcomeKind.DONE:
                self.tally.completed += 1
            else:
                self.tally.failed += 1
                self.tally.errors.append({"id": op.id, "error": DELETED_WHILE_SENT})
            self._finish(op)
            return OperationStatus.CANCELLED

    async def _record_outcome(
        self,
        handler: OperationHandler,
        op: Operation,
        outcome: Outcome,
        context: HandlerContext,
        resolved: bool,
    ) -> OperationStatus:
        if outcome.kind is OutcomeKind.CONFLICT:
            return await self._on_conflict(handler, op, outcome, context, resolved)
        if outcome.kind is OutcomeKind.DONE:
            await self.queue.mark_completed(op.id, details=outcome.details)
            self.tally.completed += 1
            status = OperationStatus.COMPLETED
        elif outcome.waiting_for is not None:
            # Not configured yet: pending, no attempt used, due again once the setting is
            # there (the engine wakes such operations when its settings change).
            self.skip.add(op.id)
            message = outcome.message or f"Waiting for the setting {outcome.waiting_for}."
            await self.queue.mark_waiting(op.id, message, outcome.waiting_for)
            self.tally.waiting += 1
            self.tally.waiting_for.add(outcome.waiting_for)
            status = OperationStatus.PENDING
        else:
            message = outcome.message or "The operation did not go through."
            # Once per run; a later run retries it. Skipped before the write, so that a claim
            # made meanwhile, were its retry already due, gives it back (see ``_claim``).
            self.skip.add(op.id)
            updated = await self.queue.mark_failed(
                op.id,
                message,
                retry_after=outcome.retry_after,
                permanent=outcome.kind is OutcomeKind.FAILED,
                count_attempt=outcome.attempted,
                details=outcome.details,
            )
            self.tally.failed += 1
            if updated.status is OperationStatus.FAILED:
                self.tally.failed_for_good += 1
            else:
                self.tally.retrying += 1
            self.tally.errors.append({"id": op.id, "error": message})
            status = updated.status
        self._finish(op)
        return status

    async def _on_conflict(
        self,
        handler: OperationHandler,
        op: Operation,
        outcome: Outcome,
        context: HandlerContext,
        resolved: bool,
    ) -> OperationStatus:
        strategy = context.conflict_strategy
        local = outcome.local if outcome.local is not None else op.payload
        message = outcome.message or "The remote changed since this operation was queued."
        info: dict[str, Any] = {
            "strategy": strategy.value,
            "remote_version": outcome.remote_version,
        }
        if resolved:
            # The re-send after a resolution met yet another change: let the user decide.
            strategy = ConflictResolution.MANUAL
            message += " It changed again while the conflict was being resolved."
        elif strategy is ConflictResolution.LOCAL_WINS and not outcome.local_can_win:
            strategy = ConflictResolution.MANUAL
            message += " The local value cannot replace the server's; it needs your decision."
        if strategy is ConflictResolution.LOCAL_WINS:
            await self.queue.record_event(
                op.id,
                "conflict",
                message,
                {**info, "remote": outcome.remote, "resolution": "local change re-sent"},
            )
            payload = resend_payload(
                handler, op, strategy, remote=outcome.remote, remote_version=outcome.remote_version
            )
            return await self._resend(handler, op, payload, context)
        if strategy is ConflictResolution.REMOTE_WINS:
            await drop_local_change(
                self.queue,
                op.id,
                f"{message} The remote version was kept and this local change was dropped.",
                kept={**info, "local": local, "remote": outcome.remote, "base": outcome.base},
                resolution="remote_wins",
            )
            self.tally.completed += 1
            self.tally.conflicts_resolved += 1
            self._finish(op)
            return OperationStatus.COMPLETED
        if strategy is ConflictResolution.MERGE:
            if outcome.base is None:
                message += " It cannot be merged: no base version was kept with it."
            else:
                merge = three_way_merge(outcome.base, local, outcome.remote)
                if merge.clean:
                    await self.queue.record_event(
                        op.id,
                        "merged",
                        message,
                        {**info, "merged": merge.merged, "remote": outcome.remote},
                    )
                    payload = resend_payload(
                        handler,
                        op,
                        strategy,
                        merged=merge.merged,
                        remote=outcome.remote,
                        remote_version=outcome.remote_version,
                    )
                    return await self._resend(handler, op, payload, context)
                fields = ", ".join(merge.conflicts)
                message += f" Both sides changed {fields}; it needs your decision."
        await self.queue.mark_conflict(
            op.id,
            local=local,
            remote=outcome.remote,
            base=outcome.base,
            remote_version=outcome.remote_version,
            message=message,
        )
        self.tally.conflicts += 1
        self._finish(op)
        return OperationStatus.CONFLICT

    async def _resend(
        self,
        handler: OperationHandler,
        op: Operation,
        payload: dict[str, Any],
        context: HandlerContext,
    ) -> OperationStatus:
        """Carry out a resolution now, with the same idempotency key."""
        self.tally.conflicts_resolved += 1
        again = dataclasses.replace(op, payload=payload)
        outcome = await self._attempt(handler, again, context)
        return await self._settle(handler, op, outcome, context, resolved=True)

    # ------------------------------------------------------------------ helpers

    async def _give_back(self, ids: Iterable[int], reason: str) -> None:
        ids = [i for i in ids if i in self.held]
        if not ids:
            return
        # Only an interrupted request is worth a line in the history; an operation that was
        # taken but never started goes back silently.
        interrupted = [i for i in ids if i in self.sent]
        untouched = [i for i in ids if i not in self.sent]
        if interrupted:
            await asyncio.shield(self.queue.release(interrupted, reason))
        if untouched:
            await asyncio.shield(self.queue.release(untouched, reason, record=False))
        self.held.difference_update(ids)
        self.tally.released += len(ids)
        self._settled.set()

    def _finish(self, op: Operation) -> None:
        self.held.discard(op.id)
        self.sent.discard(op.id)
        self.done += 1
        self._settled.set()
        self._emit(op)

    def _emit(self, op: Operation | None) -> None:
        if not self.engine.events:
            return  # nobody listens: an event per operation is not free to build
        self.engine.events.emit(
            SyncEvent(
                "progress",
                self.tally.run_id,
                self.tally.trigger,
                done=self.done,
                total=self.total,
                held=self.tally.held_back,
                current_id=None if op is None else op.id,
                current_type=None if op is None else str(op.operation_type),
            )
        )


def _call_optional(handler: object, name: str, *args: Any) -> Any:
    method: Callable[..., Any] | None = getattr(handler, name, None)
    return None if method is None else method(*args)


def _masked(op: Operation, outcome: Outcome) -> Outcome:
    """The outcome as it is recorded and reported: secrets out of its message and details.

    A server's answer is free text: one that echoes the request (its headers, a URL with
    a key) must not carry the credential into the history, the error or the sync result.
    The conflict's values are left as they are: a re-send is built from them.
    """
    if outcome.message is None and not outcome.details:
        return outcome
    secrets = payload_secrets(op.payload)
    return dataclasses.replace(
        outcome,
        message=None if outcome.message is None else mask_text(outcome.message, secrets),
        details=mask_secrets(outcome.details, secrets) if outcome.details else outcome.details,
    )


def _as_outcome(value: object) -> Outcome:
    if isinstance(value, Outcome):
        return value
    if value is True:
        return Outcome.done()
    return Outcome.retry("The handler reported that the operation did not go through.")
