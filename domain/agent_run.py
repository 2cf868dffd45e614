"""The AgentRun aggregate: one run of an agent, step by step, until it ends.

Steps after a terminal state are refused; a tool result needs its started call, once;
a run cannot complete while a tool call is still open.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.conversation import check_text
from domain.errors import InvalidValue, RunIsFinished, ToolCallConflict
from domain.ids import TimeOrderedAggregate

RUNNING = "running"
TEXT_MAX_BYTES = 256 * 1024


def check_name(field: str, value: str) -> None:
    if not 1 <= len(value) <= 200:
        raise InvalidValue(field, "must be 1 to 200 characters")
    check_text(field, value)


def check_body(field: str, value: str) -> None:
    if not 1 <= len(value.encode()) <= TEXT_MAX_BYTES:
        raise InvalidValue(field, f"must be 1 byte to {TEXT_MAX_BYTES} bytes")
    check_text(field, value)


class AgentRun(TimeOrderedAggregate):
    """A run of an agent within a conversation."""

    category = "run"

    @event("AgentRunStarted")
    def __init__(
        self,
        tenant_id: str,
        conversation_id: UUID,
        agent: str,
        model: str,
        input_message_id: UUID | None,
    ) -> None:
        self.tenant_id = tenant_id
        self.conversation_id = conversation_id
        self.agent = agent
        self.model = model
        self.state = RUNNING
        self.open_calls: dict[str, str] = {}
        self.finished_calls: list[str] = []

    @classmethod
    def begin(
        cls,
        tenant_id: str,
        conversation_id: UUID,
        agent: str,
        model: str,
        input_message_id: UUID | None,
    ) -> AgentRun:
        check_name("agent", agent)
        check_name("model", model)
        return cls(tenant_id, conversation_id, agent, model, input_message_id)

    def think(self, text: str) -> None:
        self.check_running()
        check_body("text", text)
        self._thought(text)

    @event("AgentThought")
    def _thought(self, text: str) -> None:
        pass

    def start_tool(self, call_id: str, tool: str, arguments: Any) -> None:
        self.check_running()
        check_name("call_id", call_id)
        check_name("tool", tool)
        if call_id in self.open_calls or call_id in self.finished_calls:
            raise ToolCallConflict(f"tool call {call_id} was already started")
        self._tool_started(call_id, tool, arguments)

    @event("ToolExecutionStarted")
    def _tool_started(self, call_id: str, tool: str, arguments: Any) -> None:
        self.open_calls[call_id] = tool

    def finish_tool(self, call_id: str, result: Any, error: str | None, duration_ms: int) -> None:
        self.check_running()
        if call_id in self.finished_calls:
            raise ToolCallConflict(f"tool call {call_id} already has its result")
        if call_id not in self.open_calls:
            raise ToolCallConflict(f"tool call {call_id} was never started")
        if duration_ms < 0:
            raise InvalidValue("duration_ms", "must not be negative")
        if error is not None:
            check_body("error", error)
        self._tool_completed(call_id, result, error, duration_ms)

    @event("ToolExecutionCompleted")
    def _tool_completed(
        self, call_id: str, result: Any, error: str | None, duration_ms: int
    ) -> None:
        del self.open_calls[call_id]
        self.finished_calls.append(call_id)

    def complete(self, output_message_id: UUID, usage: dict[str, float]) -> None:
        self.check_running()
        if self.open_calls:
            raise ToolCallConflict(f"tool calls still open: {', '.join(sorted(self.open_calls))}")
        for key in ("input_tokens", "output_tokens", "cost_usd"):
            if usage.get(key, 0) < 0:
                raise InvalidValue(f"usage.{key}", "must not be negative")
        self._completed(output_message_id, usage)

    @event("AgentRunCompleted")
    def _completed(self, output_message_id: UUID, usage: dict[str, float]) -> None:
        self.state = "completed"

    def fail(self, error: str) -> None:
        self.check_running()
        check_body("error", error)
        self._failed(error)

    @event("AgentRunFailed")
    def _failed(self, error: str) -> None:
        self.state = "failed"

    def cancel(self, reason: str) -> None:
        self.check_running()
        check_text("reason", reason)
        self._cancelled(reason)

    @event("AgentRunCancelled")
    def _cancelled(self, reason: str) -> None:
        self.state = "cancelled"

    def check_running(self) -> None:
        """Raise `RunIsFinished` once the run has ended."""
        if self.state != RUNNING:
            raise RunIsFinished(self.id, self.state)
