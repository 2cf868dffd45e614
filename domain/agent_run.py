"""The AgentRun aggregate: one run of an agent, step by step, until it ends.

Steps after a terminal state are refused; a tool result needs its started call, once;
a run cannot complete while a tool call is still open.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.errors import InvalidValue, RunIsFinished, ToolCallConflict
from domain.ids import TimeOrderedAggregate
from domain.tenancy import TenantOwned
from domain.values import INT32_MAX, check_amount, check_chars, check_count, check_json

RUNNING = "running"
NAME_MAX_CHARS = 200  # agents, models, tools and call ids
TEXT_MAX_CHARS = 65_536  # thoughts and errors
REASON_MAX_CHARS = 2000
COST_MAX_USD = 1_000_000.0  # of one run
USAGE_TOKENS = ("input_tokens", "output_tokens")


def check_name(field: str, value: str) -> None:
    check_chars(field, value, NAME_MAX_CHARS)


def check_body(field: str, value: str) -> None:
    check_chars(field, value, TEXT_MAX_CHARS)


def check_usage(usage: dict[str, float]) -> None:
    """Token counts that fit an `integer` column (sums of a day fit a `bigint`), and a
    bounded cost."""
    unknown = sorted(set(usage) - {*USAGE_TOKENS, "cost_usd"})
    if unknown:
        raise InvalidValue(f"usage.{unknown[0]}", "is not a usage figure")
    for key in USAGE_TOKENS:
        check_count(f"usage.{key}", usage.get(key, 0))  # type: ignore[arg-type]
    check_amount("usage.cost_usd", usage.get("cost_usd", 0), COST_MAX_USD)


class AgentRun(TimeOrderedAggregate, TenantOwned):
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
        document_id: UUID | None = None,  # the shared document it edits, if any
    ) -> None:
        self.tenant_id = tenant_id
        self.conversation_id = conversation_id
        self.document_id = document_id
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
        document_id: UUID | None = None,
    ) -> AgentRun:
        check_name("agent", agent)
        check_name("model", model)
        return cls(tenant_id, conversation_id, agent, model, input_message_id, document_id)

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
        check_json("arguments", arguments)
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
        check_count("duration_ms", duration_ms, INT32_MAX)
        check_json("result", result)
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
        check_usage(usage)
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
        check_chars("reason", reason, REASON_MAX_CHARS, minimum=0)
        self._cancelled(reason)

    @event("AgentRunCancelled")
    def _cancelled(self, reason: str) -> None:
        self.state = "cancelled"

    def check_running(self) -> None:
        """Raise `RunIsFinished` once the run has ended."""
        if self.state != RUNNING:
            raise RunIsFinished(self.id, self.state)
