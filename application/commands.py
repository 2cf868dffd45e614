"""Runs a command's decision through the event store: idempotency, retries, preconditions.

The one place where command execution policy lives; handlers only decide.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.context import CommandContext
from application.errors import (
    ConcurrencyConflict,
    DuplicateReceipt,
    IdempotencyKeyReused,
    PreconditionFailed,
)
from application.ports import Change, CommandResult, EventStore

MAX_CONFLICT_RETRIES = 20
LOCK_STRIPES = 256
R_co = TypeVar("R_co", covariant=True)


def check_expected_version(aggregate: Aggregate, expected_version: int | None) -> None:
    """Raise ``PreconditionFailed`` when the caller's If-Match version is stale."""
    if expected_version is not None and aggregate.version != expected_version:
        raise PreconditionFailed(expected_version, aggregate.version)


class Runner(Protocol[R_co]):
    """Runs a command's decision: `CommandRunner` answers with the result, `LoopRunner`
    with an awaitable of it. Use cases written against a ``Runner[R]`` serve both."""

    def run(
        self,
        context: CommandContext,
        decide: Callable[[], Change],
        *,
        expected_version: int | None = None,
        retry_on_conflict: bool = False,
        decide_blocks: bool = True,
    ) -> R_co: ...


class CommandRunner:
    """Executes ``decide`` and commits its change, exactly once per idempotency key.

    Commuting commands retry on a version conflict. After a first conflict a writer
    retries holding a lock striped by aggregate id, so writers of one hot aggregate in
    this process queue instead of starving each other.
    """

    def __init__(self, store: EventStore, *, max_retries: int = MAX_CONFLICT_RETRIES) -> None:
        self._store = store
        self._max_retries = max_retries
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]

    def run(
        self,
        context: CommandContext,
        decide: Callable[[], Change],
        *,
        expected_version: int | None = None,
        retry_on_conflict: bool = False,
        decide_blocks: bool = True,
    ) -> CommandResult:
        """Decide and commit; on a version conflict retry only commuting commands.
        (``decide_blocks`` matters only to ``run_async``.)"""
        if (replayed := self._replay(context)) is not None:
            return replayed
        change = decide()
        try:
            return self._commit(context, change)
        except ConcurrencyConflict:
            if (replayed := self._replay(context)) is not None:
                return replayed
            if expected_version is not None:
                raise PreconditionFailed(expected_version) from None
            if not retry_on_conflict:
                raise
        return self._retry_in_turn(context, decide, change.subject.id)

    async def run_async(
        self,
        context: CommandContext,
        decide: Callable[[], Change],
        *,
        expected_version: int | None = None,
        retry_on_conflict: bool = False,
        decide_blocks: bool = True,
    ) -> CommandResult:
        """``run`` for the event loop: the commit waits in the group commit without taking
        a thread. ``decide`` runs in a worker thread unless it never blocks (it loads
        nothing); commands with an idempotency key, and retries after a conflict, run
        wholly in a worker thread through ``run``, which keeps their rules in one place.
        """
        if context.idempotency is not None:
            return await asyncio.to_thread(
                self.run,
                context,
                decide,
                expected_version=expected_version,
                retry_on_conflict=retry_on_conflict,
            )
        change = await asyncio.to_thread(decide) if decide_blocks else decide()
        try:
            return await self._store.commit_async(context, change)
        except ConcurrencyConflict:
            if expected_version is not None:
                raise PreconditionFailed(expected_version) from None
            if not retry_on_conflict:
                raise
        return await asyncio.to_thread(self._retry_in_turn, context, decide, change.subject.id)

    def _retry_in_turn(
        self, context: CommandContext, decide: Callable[[], Change], aggregate_id: UUID
    ) -> CommandResult:
        with self._stripe(aggregate_id):
            return self._retry(context, decide)

    def _retry(self, context: CommandContext, decide: Callable[[], Change]) -> CommandResult:
        for attempt in range(self._max_retries):
            # Exponential backoff with full jitter keeps writers of other processes apart.
            time.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))  # noqa: S311
            try:
                return self._commit(context, decide())
            except ConcurrencyConflict:
                if (replayed := self._replay(context)) is not None:
                    return replayed
        raise ConcurrencyConflict("the aggregate is too busy; try again")

    def _commit(self, context: CommandContext, change: Change) -> CommandResult:
        try:
            return self._store.commit(context, change)
        except DuplicateReceipt:
            if (replayed := self._replay(context)) is not None:
                return replayed
            raise

    def _stripe(self, aggregate_id: UUID) -> threading.Lock:
        return self._stripes[aggregate_id.int % LOCK_STRIPES]

    def replay(self, context: CommandContext) -> CommandResult | None:
        """The remembered answer to this context's idempotency key, if any."""
        return self._replay(context)

    def _replay(self, context: CommandContext) -> CommandResult | None:
        if context.idempotency is None:
            return None
        receipt = self._store.find_receipt(context.tenant_id, context.idempotency.key)
        if receipt is None:
            return None
        if receipt.fingerprint != context.idempotency.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request"
            )
        return receipt.result


class LoopRunner:
    """A `CommandRunner` for coroutines: ``run`` returns the awaitable of ``run_async``."""

    def __init__(self, runner: CommandRunner) -> None:
        self._runner = runner

    def run(
        self,
        context: CommandContext,
        decide: Callable[[], Change],
        *,
        expected_version: int | None = None,
        retry_on_conflict: bool = False,
        decide_blocks: bool = True,
    ) -> Awaitable[CommandResult]:
        return self._runner.run_async(
            context,
            decide,
            expected_version=expected_version,
            retry_on_conflict=retry_on_conflict,
            decide_blocks=decide_blocks,
        )
