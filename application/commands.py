"""Runs a command's decision through the event store: idempotency, retries, preconditions.

The one place where command execution policy lives; handlers only decide.
"""

from __future__ import annotations

import random
import threading
import time
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
from application.ports import Change, CommandResult, EventStore

MAX_CONFLICT_RETRIES = 20
LOCK_STRIPES = 256


def check_expected_version(aggregate: Aggregate, expected_version: int | None) -> None:
    """Raise ``PreconditionFailed`` when the caller's If-Match version is stale."""
    if expected_version is not None and aggregate.version != expected_version:
        raise PreconditionFailed(expected_version, aggregate.version)


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
    ) -> CommandResult:
        """Decide and commit; on a version conflict retry only commuting commands."""
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
        with self._stripe(change.subject.id):
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
