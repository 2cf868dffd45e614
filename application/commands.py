"""Runs a command's decision through the event store: idempotency, retries, preconditions.

The one place where command execution policy lives; handlers only decide.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Callable
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.context import CommandContext
from application.errors import (
    ConcurrencyConflict,
    DuplicateReceipt,
    IdempotencyKeyReused,
    PreconditionFailed,
)
from application.ports import Change, CommandResult, CommandTracer, EventStore

MAX_CONFLICT_RETRIES = 20
LOCK_STRIPES = 256


def check_expected_version(aggregate: Aggregate, expected_version: int | None) -> None:
    """Raise ``PreconditionFailed`` when the caller's If-Match version is stale."""
    if expected_version is not None and aggregate.version != expected_version:
        raise PreconditionFailed(expected_version, aggregate.version)


class CommandRunner:
    """Decides a command and commits its change, exactly once per idempotency key.

    A decision that loads aggregates (the library's loads are synchronous) runs in a
    worker thread; one that only creates decides on the loop; the commit is awaited on
    the loop either way. Commuting commands retry on a version conflict; after a first
    conflict a command retries holding a lock striped by aggregate id, so the writers of
    one hot aggregate queue instead of starving each other.
    """

    def __init__(self, store: EventStore, *, max_retries: int = MAX_CONFLICT_RETRIES) -> None:
        self._store = store
        self._max_retries = max_retries
        self._stripes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    async def run(
        self,
        context: CommandContext,
        decide: Callable[[], Change],
        *,
        expected_version: int | None = None,
        retry_on_conflict: bool = False,
        decide_blocks: bool = True,
    ) -> CommandResult:
        """Decide and commit; on a version conflict retry only commuting commands.

        ``decide_blocks=False`` says the decision loads nothing, so it runs on the loop.
        """
        if (replayed := await self.replay(context)) is not None:
            return replayed
        change = await asyncio.to_thread(decide) if decide_blocks else decide()
        try:
            return await self._commit(context, change)
        except ConcurrencyConflict:
            if (replayed := await self.replay(context)) is not None:
                return replayed
            if expected_version is not None:
                raise PreconditionFailed(expected_version) from None
            if not retry_on_conflict:
                raise
        async with self._stripe(change.subject.id):
            return await self._retry(context, decide)

    async def _retry(self, context: CommandContext, decide: Callable[[], Change]) -> CommandResult:
        for attempt in range(self._max_retries):
            # Exponential backoff with full jitter keeps writers of other processes apart.
            await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))  # noqa: S311
            try:
                return await self._commit(context, await asyncio.to_thread(decide))
            except ConcurrencyConflict:
                if (replayed := await self.replay(context)) is not None:
                    return replayed
        raise ConcurrencyConflict("the aggregate is too busy; try again")

    async def _commit(self, context: CommandContext, change: Change) -> CommandResult:
        try:
            return await self._store.commit(context, change)
        except DuplicateReceipt:
            if (replayed := await self.replay(context)) is not None:
                return replayed
            raise

    def _stripe(self, aggregate_id: UUID) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if (stripes := self._stripes.get(loop)) is None:
            stripes = self._stripes[loop] = [asyncio.Lock() for _ in range(LOCK_STRIPES)]
        return stripes[aggregate_id.int % LOCK_STRIPES]

    async def replay(self, context: CommandContext) -> CommandResult | None:
        """The remembered answer to this context's idempotency key, if any."""
        if context.idempotency is None:
            return None
        receipt = await asyncio.to_thread(
            self._store.find_receipt, context.tenant_id, context.idempotency.key
        )
        if receipt is None:
            return None
        if receipt.fingerprint != context.idempotency.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request"
            )
        return receipt.result


class TracedCommandRunner(CommandRunner):
    """A `CommandRunner` that runs each command in a span of ``tracer``; its events carry
    that span as their ``traceparent``. (A subclass, so an untraced process pays nothing.)"""

    def __init__(
        self, store: EventStore, tracer: CommandTracer, *, max_retries: int = MAX_CONFLICT_RETRIES
    ) -> None:
        super().__init__(store, max_retries=max_retries)
        self._tracer = tracer

    async def run(
        self,
        context: CommandContext,
        decide: Callable[[], Change],
        *,
        expected_version: int | None = None,
        retry_on_conflict: bool = False,
        decide_blocks: bool = True,
    ) -> CommandResult:
        with self._tracer.trace(context) as traced:
            result = await super().run(
                traced.context,
                decide,
                expected_version=expected_version,
                retry_on_conflict=retry_on_conflict,
                decide_blocks=decide_blocks,
            )
            traced.finished(result)
            return result
