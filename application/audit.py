"""The audit trail's write side: a refused command becomes an `AccessDenied` event.

Accepted commands need nothing here: every event they store carries the actor, the
command, its id, the request id and the trace in its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.commands import CommandRunner
from application.context import CommandContext
from application.ports import Change, CommandResult
from domain.audit import AccessDenial


@dataclass(frozen=True)
class Denial:
    """A command refused at the edge (401, 403, 404 or 429), attributed as far as known."""

    tenant_id: str
    actor: str
    key_id: str | None
    command: str
    target: str | None
    status: int
    reason: str
    method: str
    path: str
    request_id: str | None = None
    traceparent: str | None = None


class AuditTrail:
    def __init__(self, runner: CommandRunner) -> None:
        self._runner = runner

    async def record_denial(self, denial: Denial) -> CommandResult:
        context = CommandContext(
            tenant_id=denial.tenant_id,
            actor=denial.actor,
            command=denial.command,
            correlation_id=denial.request_id,
            traceparent=denial.traceparent,
        )

        def decide() -> Change:
            record = AccessDenial(
                actor=denial.actor,
                key_id=denial.key_id,
                command=denial.command,
                target=denial.target,
                status=denial.status,
                reason=denial.reason,
                method=denial.method,
                path=denial.path,
            )
            return Change((record,), record)

        return await self._runner.run(context, decide, decide_blocks=False)
