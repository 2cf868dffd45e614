"""Erasing data subjects (crypto-shredding): the use case that destroys a subject's data keys
and records it, so every value bound to the subject becomes unreadable everywhere at once.

The keys go in the transaction of the `SubjectErased` event (the event store's commit
does it); followers drop what they derived from the subject when they read the event.
"""

from __future__ import annotations

from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import NotFound
from application.ports import Change, CommandResult, EventStore, SubjectKeys
from domain.erasure import DataSubject, check_subject
from domain.errors import SubjectAlreadyErased


class Subjects:
    """Use cases of data subjects."""

    def __init__(self, store: EventStore, runner: CommandRunner, keys: SubjectKeys) -> None:
        self._store = store
        self._runner = runner
        self._keys = keys

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

        return await self._runner.run(context, decide)
