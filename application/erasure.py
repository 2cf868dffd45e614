"""Erasing data subjects (crypto-shredding): the use case that destroys a subject's data keys
and records it, so every value bound to the subject becomes unreadable everywhere at once.

The keys go in the transaction of the `SubjectErased` event (the event store's commit
does it); followers drop what they derived from the subject when they read the event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import structlog

from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import ConcurrencyConflict, NotFound
from application.ports import Change, CommandResult, EventStore, SubjectKeys
from domain.erasure import DataSubject, check_subject
from domain.errors import SubjectAlreadyErased

log = structlog.get_logger(__name__)
RETENTION_ACTOR = "retention"
EXPIRED_PAGE = 200


class Expired(Protocol):
    """Where the subjects past a tenant's retention are found."""

    def conversations(self, tenant_id: str, started_before: datetime, limit: int) -> list[str]:
        """Subjects of the tenant's conversations started before then that still hold
        values (keys), at most ``limit``."""
        ...


class Subjects:
    """Use cases of data subjects."""

    def __init__(
        self,
        store: EventStore,
        runner: CommandRunner,
        keys: SubjectKeys,
        expired: Expired | None = None,
    ) -> None:
        self._store = store
        self._runner = runner
        self._keys = keys
        self._expired = expired

    async def erase(self, context: CommandContext, subject: str, reason: str) -> CommandResult:
        """Erase a subject of the context's tenant: `NotFound` for a subject that never held
        a value, `SubjectAlreadyErased` for one that holds none since its last erasure."""
        check_subject(subject)
        tenant = context.tenant_id
        by = context.actor or "unknown"

        def decide() -> Change:
            held = self._keys.held(tenant, subject)
            try:
                named: DataSubject | None = self._store.get(
                    DataSubject.create_id(tenant, subject), DataSubject
                )
            except NotFound:
                named = None
            if not held:
                if named is None:
                    raise NotFound(f"data subject {subject} not found")
                raise SubjectAlreadyErased(subject)
            if named is None:
                named = DataSubject.erase_first(tenant, subject, reason, by)
            else:
                named.erase(reason, by)
            return Change((named,), named, {"subject": subject})

        result = await self._runner.run(context, decide)
        self._keys.forget(tenant, subject)  # here at once; elsewhere as the event arrives
        return result

    async def erase_expired(self, tenant: str, days: int, now: datetime) -> int:
        """Erase the tenant's conversations started more than ``days`` before ``now``, as
        an erasure by request does (by `RETENTION_ACTOR`); how many were erased."""
        assert self._expired is not None, "retention needs where to find expired subjects"
        before, erased = now - timedelta(days=days), 0
        reason = f"retention: conversations are kept {days} day{'s' if days != 1 else ''}"
        tried: set[str] = set()
        while page := self._expired.conversations(tenant, before, EXPIRED_PAGE):
            if tried.issuperset(page):
                break  # each tried once this sweep; the next sweep tries again
            for subject in page:
                tried.add(subject)
                try:
                    context = CommandContext(tenant, RETENTION_ACTOR, "subject.erase")
                    await self.erase(context, subject, reason)
                    erased += 1
                except (NotFound, SubjectAlreadyErased, ConcurrencyConflict):
                    pass  # erased meanwhile, by a request or another sweep
            if len(page) < EXPIRED_PAGE:
                break
        if erased:
            log.info("retention erased conversations", tenant=tenant, erased=erased, days=days)
        return erased
