"""Recording operational facts (projection rebuilds, retries and skips) as audit events."""

from __future__ import annotations

from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import NotFound
from application.ports import Change, EventStore
from domain.projection_log import SYSTEM_TENANT, ProjectionLog


class ProjectionAudit:
    """Appends to a projection's audit log, creating the log on first use."""

    def __init__(self, store: EventStore, runner: CommandRunner) -> None:
        self._store = store
        self._runner = runner

    async def rebuilt(
        self, actor: str, name: str, generation: int, position: int, events: int, seconds: float
    ) -> None:
        await self._record(
            actor,
            name,
            "projections.rebuild",
            lambda log: log.rebuilt(generation, position, events, seconds),
        )

    async def retried(
        self, actor: str, name: str, aggregate_id: str | None, applied: int, still_parked: int
    ) -> None:
        await self._record(
            actor,
            name,
            "projections.retry",
            lambda log: log.parked_retried(aggregate_id, applied, still_parked),
        )

    async def skipped(self, actor: str, name: str, position: int, error: str) -> None:
        await self._record(
            actor, name, "projections.skip", lambda log: log.event_skipped(position, error)
        )

    async def _record(self, actor: str, name: str, command: str, change: object) -> None:
        context = CommandContext(tenant_id=SYSTEM_TENANT, actor=actor, command=command)

        def decide() -> Change:
            try:
                log = self._store.get(ProjectionLog.create_id(name), ProjectionLog)
            except NotFound:
                log = ProjectionLog(name=name)
            change(log)  # type: ignore[operator]
            return Change((log,), log)

        await self._runner.run(context, decide, retry_on_conflict=True)
