"""Use cases of agent runs: start, think, tool calls, complete (with the assistant's
message in the same commit), fail, cancel.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from application.budgets import Budgets
from application.commands import CommandRunner
from application.context import CommandContext
from application.ports import Change, CommandResult, EventStore, RunSteps
from application.tenancy import load_owned
from domain.agent_run import AgentRun
from domain.conversation import Conversation
from domain.document import Document
from domain.ids import new_id


class Runs:
    """Command handlers of agent runs."""

    def __init__(
        self,
        store: EventStore,
        runner: CommandRunner,
        budgets: Budgets,
        steps: RunSteps | None = None,
    ) -> None:
        self._store = store
        self._runner = runner
        self._budgets = budgets
        self._steps = steps

    async def start(
        self,
        context: CommandContext,
        conversation_id: UUID,
        agent: str,
        model: str,
        input_message_id: UUID | None,
        document_id: UUID | None = None,
    ) -> CommandResult:
        """Start a run (agent_started), once the tenant's daily budget allows one; a run
        that edits a shared document names it (one of the tenant's)."""
        await self._budgets.ensure_within(context.tenant_id, datetime.now(UTC))
        decided: list[AgentRun] = []

        def decide() -> Change:
            conversation = self._conversation(context.tenant_id, conversation_id)
            conversation.check_open()
            if document_id is not None:
                load_owned(self._store, document_id, Document, context.tenant_id)
            run = AgentRun.begin(
                context.tenant_id, conversation.id, agent, model, input_message_id, document_id
            )
            decided[:] = [run]
            return Change((run,), run)

        result = await self._runner.run(context, decide)
        await self._recorded(decided, "started", result, {})
        return result

    async def think(self, context: CommandContext, run_id: UUID, text: str) -> CommandResult:
        return await self._step(context, run_id, lambda run: run.think(text), "thought", {})

    async def start_tool(
        self, context: CommandContext, run_id: UUID, call_id: str, tool: str, arguments: Any
    ) -> CommandResult:
        return await self._step(
            context,
            run_id,
            lambda run: run.start_tool(call_id, tool, arguments),
            "tool_started",
            {"call_id": call_id, "tool": tool},
        )

    async def finish_tool(
        self,
        context: CommandContext,
        run_id: UUID,
        call_id: str,
        result: Any,
        error: str | None,
        duration_ms: int,
    ) -> CommandResult:
        details: dict[str, Any] = {"call_id": call_id, "error": error, "duration_ms": duration_ms}

        def act(run: AgentRun) -> None:
            details["tool"] = run.open_calls.get(call_id, "")
            run.finish_tool(call_id, result, error, duration_ms)

        return await self._step(context, run_id, act, "tool_completed", details)

    async def complete(
        self, context: CommandContext, run_id: UUID, content: str, usage: dict[str, float]
    ) -> CommandResult:
        """The run completes and its answer is posted to the conversation, atomically."""
        message_id = new_id()
        decided: list[AgentRun] = []

        def decide() -> Change:
            run = self.active(context.tenant_id, run_id)
            conversation = self._conversation(context.tenant_id, run.conversation_id)
            tokens = int(usage.get("output_tokens", 0)) or None
            conversation.post_message(message_id, "assistant", content, run.agent, tokens)
            run.complete(message_id, usage)
            decided[:] = [run]
            return Change((run, conversation), run, {"message_id": str(message_id)})

        result = await self._runner.run(context, decide, retry_on_conflict=True)
        await self._recorded(decided, "completed", result, {"usage": usage})
        return result

    async def fail(self, context: CommandContext, run_id: UUID, error: str) -> CommandResult:
        return await self._step(
            context, run_id, lambda run: run.fail(error), "failed", {"error": error}
        )

    async def cancel(self, context: CommandContext, run_id: UUID, reason: str) -> CommandResult:
        return await self._step(
            context, run_id, lambda run: run.cancel(reason), "cancelled", {"reason": reason}
        )

    async def check_running(self, tenant_id: str, run_id: UUID) -> None:
        """``NotFound`` outside the tenant, `RunIsFinished` after the run ended."""
        (await asyncio.to_thread(self.active, tenant_id, run_id)).check_running()

    def active(self, tenant_id: str, run_id: UUID) -> AgentRun:
        """The tenant's run; ``NotFound`` otherwise."""
        return load_owned(self._store, run_id, AgentRun, tenant_id)

    async def _step(
        self,
        context: CommandContext,
        run_id: UUID,
        act: Any,
        step: str,
        details: dict[str, Any],
    ) -> CommandResult:
        decided: list[AgentRun] = []

        def decide() -> Change:
            run = self.active(context.tenant_id, run_id)
            act(run)
            decided[:] = [run]
            return Change((run,), run)

        # Steps of one run commute with nothing but each other; a concurrent step retries.
        result = await self._runner.run(context, decide, retry_on_conflict=True)
        await self._recorded(decided, step, result, details)
        return result

    async def _recorded(
        self, decided: list[AgentRun], step: str, result: CommandResult, details: dict[str, Any]
    ) -> None:
        """Tell the steps' observer of a committed step (not of a replayed one)."""
        if self._steps is not None and decided and not result.replayed:
            await self._steps.recorded(decided[0], step, details)

    def _conversation(self, tenant_id: str, conversation_id: UUID) -> Conversation:
        return load_owned(self._store, conversation_id, Conversation, tenant_id)
