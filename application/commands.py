"""Runs a command's decision through the event store: idempotency, retries, preconditions.

The one place where command execution policy lives; handlers only decide.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

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


def check_expected_version(aggregate: Aggregate, expected_version: int | None) -> None:
    """Raise ``PreconditionFailed`` when the caller's If-Match version is stale."""
    if expected_version is not None and aggregate.version != expected_version:
        raise PreconditionFailed(expected_version, aggregate.version)


class CommandRunner:
    """Executes ``decide`` and commits its change, exactly once per idempotency key."""

    def __init__(self, store: EventStore, *, max_retries: int = MAX_CONFLICT_RETRIES) -> None:
        self._store = store
        self._max_retries = max_retries

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
        for attempt in range(self._max_retries + 1):
            change = decide()
            try:
                return self._store.commit(context, change)
            except DuplicateReceipt:
                if (replayed := self._replay(context)) is not None:
                    return replayed
                raise
            except ConcurrencyConflict:
                if (replayed := self._replay(context)) is not None:
                    return replayed
                if expected_version is not None:
                    raise PreconditionFailed(expected_version) from None
                if not retry_on_conflict or attempt == self._max_retries:
                    raise
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311
        raise AssertionError("unreachable")  # pragma: no cover

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
