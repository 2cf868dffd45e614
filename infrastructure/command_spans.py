"""The spans of commands and of agent runs' steps (the application's tracing ports).

A command's span becomes its events' ``traceparent``, so the group commit, the
projections, the relay and live clients find their way back to it. An agent run's steps
are spans of the run's trace (the trace of its ``agent_started``) with the GenAI semantic
conventions' attributes, so a backend shows a run as one tree whatever requests carried it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.trace import Link, Span, Status, StatusCode

from application.context import CommandContext
from application.ports import CommandResult, EventStore
from domain.agent_run import AgentRun
from infrastructure import tracing
from infrastructure.span_recorder import CurrentSpan

ROLE = "api"
log = structlog.get_logger(__name__)


class TracedCommand:
    """A command in its span, the current span while the command runs; an error leaving
    the block is the command's outcome."""

    __slots__ = ("_current", "context", "span")

    def __init__(self, context: CommandContext, span: Span) -> None:
        self.span = span
        self.context = context.traced(tracing.traceparent_of(span) or context.traceparent)
        self._current = CurrentSpan(span)

    def __enter__(self) -> TracedCommand:
        self._current.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if isinstance(exc_val, Exception):
            self.span.set_attribute("chronicle.outcome", type(exc_val).__name__)
        self._current.__exit__(exc_type, exc_val, exc_tb)

    def finished(self, result: CommandResult) -> None:
        self.span.set_attributes(
            {
                "chronicle.aggregate.id": str(result.id),
                "chronicle.position": result.position,
                "chronicle.outcome": "replayed" if result.replayed else "ok",
            }
        )


class CommandSpans:
    """A span per command: ``command <name>``, with its tenant, aggregate and outcome."""

    def trace(self, context: CommandContext) -> TracedCommand:
        span = tracing.tracer(ROLE).start_span(
            f"command {context.command}",
            attributes={
                "chronicle.command": context.command,
                "chronicle.tenant": context.tenant_id,
            },
        )
        return TracedCommand(context, span)


def gen_ai_system(model: str) -> str:
    """The provider a model's name gives as ``provider/model``; ``_OTHER`` (the
    conventions' value for an unknown one) otherwise."""
    provider, slash, _ = model.partition("/")
    return provider if slash and provider else "_OTHER"


class RunSpans:
    """Spans of an agent run's steps, in the run's trace, with ``gen_ai.*`` attributes.

    A step is traced as it commits: ``agent_started`` and ``agent_thought`` as instants,
    a tool call as ``execute_tool <tool>`` over its reported duration, and the end of a
    run as ``invoke_agent <agent>`` from its start, with its token usage. Each links to
    the command span that carried it when that is in another trace.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def recorded(self, run: AgentRun, step: str, details: Mapping[str, Any]) -> None:
        """Trace a committed step; a failure to trace it (the run's first event unread) is
        logged, never the command's: it has committed."""
        try:
            await self._record(run, step, details)
        except Exception as error:
            log.warning("could not trace a run's step", step=step, error=repr(error))

    async def _record(self, run: AgentRun, step: str, details: Mapping[str, Any]) -> None:
        parent = trace.get_current_span()
        if step == "started":
            run_context = None  # the current trace is the run's
        else:
            run_context = tracing.context_of(await asyncio.to_thread(self._run_trace, run))
        links = []
        if run_context is not None and parent.get_span_context().is_valid:
            links.append(Link(parent.get_span_context()))
        name, start, attributes = self._describe(run, step, details)
        end = datetime.now().astimezone()
        span = tracing.tracer(ROLE).start_span(
            name,
            context=run_context,
            attributes=attributes,
            links=links,
            start_time=_nanos(start or end),
        )
        if step == "failed" or details.get("error"):
            span.set_status(Status(StatusCode.ERROR, str(details.get("error"))))
            span.set_attribute("error.type", "tool_error" if step == "tool_completed" else step)
        span.end(_nanos(end))

    def _run_trace(self, run: AgentRun) -> str | None:
        first = self._store.read_stream(run.id, 1, 1)
        return first[0].metadata.get("traceparent") if first else None

    @staticmethod
    def _describe(
        run: AgentRun, step: str, details: Mapping[str, Any]
    ) -> tuple[str, datetime | None, dict[str, Any]]:
        attributes: dict[str, Any] = {
            "gen_ai.system": gen_ai_system(run.model),
            "gen_ai.request.model": run.model,
            "gen_ai.agent.name": run.agent,
            "gen_ai.agent.id": str(run.id),
            "gen_ai.conversation.id": str(run.conversation_id),
            "chronicle.run.step": step,
        }
        if step in ("tool_started", "tool_completed"):
            attributes["gen_ai.operation.name"] = "execute_tool"
            attributes["gen_ai.tool.name"] = details["tool"]
            attributes["gen_ai.tool.call.id"] = details["call_id"]
        if step == "tool_completed":
            start = datetime.now().astimezone().timestamp() - details["duration_ms"] / 1000
            tool = attributes["gen_ai.tool.name"]
            return f"execute_tool {tool}", datetime.fromtimestamp(start).astimezone(), attributes
        if step in ("completed", "failed", "cancelled"):
            attributes["gen_ai.operation.name"] = "invoke_agent"
            usage = details.get("usage") or {}
            attributes["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens", 0))
            attributes["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens", 0))
            if "cost_usd" in usage:
                attributes["chronicle.run.cost_usd"] = float(usage["cost_usd"])
            return f"invoke_agent {run.agent}", run.created_on, attributes
        return f"agent_{step}", None, attributes


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)
