"""Spans of commands and run steps: names, attributes, and never a committed command's error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from domain.agent_run import AgentRun
from infrastructure import tracing
from infrastructure.command_spans import RunSpans, gen_ai_system
from tests.spans import recorded


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with recorded() as exporter:
        yield exporter


class UnreadableStore:
    def read_stream(self, *args: Any) -> list[Any]:
        raise ConnectionError("the database went away")


@pytest.mark.parametrize(
    ("model", "system"),
    [
        ("openai/gpt-4o", "openai"),
        ("anthropic/claude", "anthropic"),
        ("m-1", "_OTHER"),
        ("/x", "_OTHER"),
    ],
)
def test_the_system_is_the_provider_a_model_name_gives(model: str, system: str) -> None:
    assert gen_ai_system(model) == system


async def test_a_step_that_cannot_be_traced_is_logged_not_raised(
    spans: InMemorySpanExporter,
) -> None:
    run = AgentRun.begin("t", uuid4(), "planner", "m-1", None)
    await RunSpans(UnreadableStore()).recorded(run, "thought", {})  # type: ignore[arg-type]
    assert spans.get_finished_spans() == ()


async def test_a_started_run_is_a_span_of_the_current_trace(spans: InMemorySpanExporter) -> None:
    run = AgentRun.begin("t", uuid4(), "planner", "openai/gpt-4o", None)
    with tracing.tracer("api").start_as_current_span("command run.start") as command:
        await RunSpans(UnreadableStore()).recorded(run, "started", {})  # type: ignore[arg-type]
    (started,) = [s for s in spans.get_finished_spans() if s.name == "agent_started"]
    assert started.context is not None and started.parent is not None
    assert started.context.trace_id == command.get_span_context().trace_id
    assert started.attributes is not None
    assert started.attributes["gen_ai.agent.name"] == "planner"
    assert started.attributes["gen_ai.system"] == "openai"
