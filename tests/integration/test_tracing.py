"""One command's trace, with the SDK's in-memory exporter: the HTTP request, the command,
the group commit (linked), the projections (linked), the relay and the live delivery;
an agent run's steps with ``gen_ai.*`` attributes; a task worker in its submitter's trace.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api.processes.task_worker import Worker, WorkerConfig
from infrastructure.settings import Settings
from tests.integration.conftest import KeyFactory, serving
from tests.integration.sse import collect
from tests.spans import recorded

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
INCOMING = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Every role of this process traced into one in-memory exporter, for this module."""
    with recorded(("api", "projector", "relay", "worker")) as spans:
        yield spans


@pytest.fixture(scope="module")
def traced_url(
    exporter: InMemorySpanExporter,
    servers: Settings,
    projecting: None,
    relaying: None,
    scheduling: None,
) -> Iterator[str]:
    """An API built while tracing is on (the session's own was built before)."""
    with serving(servers) as url:
        yield url


@pytest.fixture
async def traced(traced_url: str, issue_key: KeyFactory) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {issue_key()}"}
    async with httpx.AsyncClient(base_url=traced_url, headers=headers, timeout=30) as http:
        yield http


async def spans_until(
    exporter: InMemorySpanExporter,
    found: Callable[[Sequence[ReadableSpan]], bool],
    timeout: float = 20,
) -> Sequence[ReadableSpan]:
    deadline = time.monotonic() + timeout
    while not found(spans := exporter.get_finished_spans()):
        assert time.monotonic() < deadline, sorted({s.name for s in spans})
        await asyncio.sleep(0.05)
    return spans


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def in_trace(spans: Sequence[ReadableSpan], trace_id: str) -> list[ReadableSpan]:
    return [s for s in spans if hex_trace(s) == trace_id]


def linked_to(spans: Sequence[ReadableSpan], target: ReadableSpan) -> list[ReadableSpan]:
    assert target.context is not None
    span_id = target.context.span_id
    return [s for s in spans if any(link.context.span_id == span_id for link in s.links)]


async def test_one_command_is_one_trace_from_the_request_to_the_live_client(
    traced: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    cid = (await traced.post("/v1/conversations", json={"title": "traced"})).json()["id"]
    listening = asyncio.create_task(
        collect(traced, 1, params={"subjects": f"conversation.{cid}.MessagePosted"})
    )
    await asyncio.sleep(0.5)  # the live client is registered with the hub
    answer = await traced.post(
        f"/v1/conversations/{cid}/messages",
        json={"role": "user", "content": "hello"},
        headers={"traceparent": INCOMING},
    )
    assert answer.status_code == 201, answer.text
    frame = (await listening)[0]
    assert frame.json["traceparent"].split("-")[1] == TRACE_ID  # the CloudEvent carries it

    def complete(spans: Sequence[ReadableSpan]) -> bool:
        trace = in_trace(spans, TRACE_ID)
        names = {s.name for s in trace}
        commands = [s for s in trace if s.name == "command conversation.post_message"]
        projected = {s.name for c in commands for s in linked_to(spans, c)}
        return {"send CHRONICLE_EVENTS", "process chronicle.live"} <= names and {
            "project messages",
            "project conversations",
        } <= projected

    spans = await spans_until(exporter, complete)
    trace = in_trace(spans, TRACE_ID)
    (server,) = [s for s in trace if s.kind == SpanKind.SERVER]
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT_ID
    assert server.context is not None
    echoed = answer.headers["traceparent"]
    assert echoed == f"00-{TRACE_ID}-{server.context.span_id:016x}-01"

    (command,) = [s for s in trace if s.name == "command conversation.post_message"]
    assert command.parent is not None and command.parent.span_id == server.context.span_id
    assert command.attributes is not None
    assert command.attributes["chronicle.outcome"] == "ok"
    assert command.attributes["chronicle.aggregate.id"] == cid

    batches = [s for s in linked_to(spans, command) if s.name == "group commit"]
    assert len(batches) == 1 and hex_trace(batches[0]) != TRACE_ID  # its own trace, linked
    projections = [s for s in linked_to(spans, command) if s.name.startswith("project ")]
    assert {s.name for s in projections} >= {"project messages", "project conversations"}

    (relayed,) = [s for s in trace if s.name == "send CHRONICLE_EVENTS"]
    assert relayed.kind == SpanKind.PRODUCER
    assert relayed.parent is not None and relayed.parent.span_id == command.context.span_id
    assert relayed.resource.attributes["service.name"] == "test-relay"
    live = [s for s in trace if s.name == "process chronicle.live"]
    assert relayed.context is not None
    assert any(s.parent is not None and s.parent.span_id == relayed.context.span_id for s in live)


async def test_probes_and_scrapes_make_no_spans(
    traced: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        answer = await traced.get(path)
        assert answer.status_code == 200 and "traceparent" not in answer.headers
    names = {s.name for s in exporter.get_finished_spans()}
    assert not names & {"GET /healthz", "GET /readyz", "GET /metrics"}


async def test_a_request_without_a_trace_starts_one_and_its_events_carry_it(
    traced: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    answer = await traced.post("/v1/conversations", json={"title": "no parent"})
    trace_id = answer.headers["traceparent"].split("-")[1]
    assert trace_id != TRACE_ID
    events = (await traced.get(f"/v1/streams/{answer.json()['id']}/events")).json()
    stored = events["items"][0]["metadata"]["traceparent"]
    spans = await spans_until(
        exporter,
        lambda spans: any(
            s.name == "command conversation.start" for s in in_trace(spans, trace_id)
        ),
    )
    (command,) = [s for s in in_trace(spans, trace_id) if s.name.startswith("command ")]
    assert command.context is not None
    assert stored.startswith(f"00-{trace_id}-{command.context.span_id:016x}-")


async def test_an_agent_runs_steps_are_spans_of_its_trace_with_gen_ai_attributes(
    traced: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    cid = (await traced.post("/v1/conversations", json={"title": "agent"})).json()["id"]
    started = await traced.post(
        "/v1/runs", json={"conversation_id": cid, "agent": "planner", "model": "openai/gpt-4o"}
    )
    run_trace = started.headers["traceparent"].split("-")[1]
    rid = started.json()["id"]
    steps = [  # each request in a trace of its own, as a client without tracing sends them
        (f"/v1/runs/{rid}/thinking", {"text": "search first"}),
        (f"/v1/runs/{rid}/tools", {"call_id": "c1", "tool": "search", "arguments": {}}),
        (f"/v1/runs/{rid}/tools/c1/result", {"result": {"hits": 2}, "duration_ms": 40}),
        (
            f"/v1/runs/{rid}/complete",
            {"content": "done", "usage": {"input_tokens": 10, "output_tokens": 4}},
        ),
    ]
    for path, body in steps:
        response = await traced.post(path, json=body)
        assert response.status_code == 200, response.text
        assert response.headers["traceparent"].split("-")[1] != run_trace

    spans = await spans_until(
        exporter,
        lambda spans: any(s.name == "invoke_agent planner" for s in in_trace(spans, run_trace)),
    )
    run = {
        s.name: s
        for s in in_trace(spans, run_trace)
        if s.attributes and "gen_ai.agent.id" in s.attributes
    }
    assert set(run) == {
        "agent_started",
        "agent_thought",
        "agent_tool_started",
        "execute_tool search",
        "invoke_agent planner",
    }
    for span in run.values():
        assert span.attributes is not None
        assert span.attributes["gen_ai.system"] == "openai"
        assert span.attributes["gen_ai.request.model"] == "openai/gpt-4o"
        assert span.attributes["gen_ai.agent.name"] == "planner"
    tool = run["execute_tool search"].attributes
    assert tool is not None and tool["gen_ai.tool.call.id"] == "c1"
    invoke = run["invoke_agent planner"]
    assert invoke.attributes is not None
    assert invoke.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert invoke.attributes["gen_ai.usage.input_tokens"] == 10
    assert invoke.attributes["gen_ai.usage.output_tokens"] == 4
    assert invoke.start_time is not None and invoke.end_time is not None
    assert invoke.start_time < run["agent_thought"].start_time  # type: ignore[operator]
    assert len(run["execute_tool search"].links) == 1  # to the request that reported it


async def test_a_worker_runs_a_task_in_its_submitters_trace(
    traced: httpx.AsyncClient,
    traced_url: str,
    exporter: InMemorySpanExporter,
    issue_key: KeyFactory,
) -> None:
    task_type = f"trace-{time.monotonic_ns()}"
    submitted = await traced.post(
        "/v1/tasks",
        json={"type": task_type, "payload": {"n": 1}},
        headers={"traceparent": INCOMING},
    )
    assert submitted.status_code == 201, submitted.text
    echo = [
        sys.executable,
        "-c",
        "import json, os; print(json.dumps({'tp': os.environ['TRACEPARENT']}))",
    ]
    key = traced.headers["Authorization"].removeprefix("Bearer ")
    worker = Worker(WorkerConfig(traced_url, key, [task_type], echo, "w-trace", max_tasks=1))
    ran = threading.Thread(target=worker.run)
    ran.start()
    await asyncio.to_thread(ran.join, 30)
    assert worker.done == 1
    spans = await spans_until(
        exporter,
        lambda spans: any(s.name == "command task.complete" for s in in_trace(spans, TRACE_ID)),
    )
    (task_span,) = [s for s in in_trace(spans, TRACE_ID) if s.name == f"task {task_type}"]
    assert task_span.resource.attributes["service.name"] == "test-worker"
    assert task_span.context is not None
    events = (await traced.get(f"/v1/streams/{submitted.json()['id']}/events")).json()["items"]
    results = [e["data"]["result"] for e in events if "result" in e["data"]]
    assert [r["tp"].rsplit("-", 1)[0] for r in results] == [
        f"00-{TRACE_ID}-{task_span.context.span_id:016x}"
    ]


@pytest.mark.parametrize("command", ["up", "serve", "project", "relay", "scheduler"])
def test_a_tracing_variable_it_cannot_use_stops_a_process_with_one_line(command: str) -> None:
    chronicle = str(Path(sys.executable).parent / "chronicle")
    env = os.environ | {"OTEL_TRACES_EXPORTER": "jaeger", "CHRONICLE_PORT": "1"}
    done = subprocess.run(
        [chronicle, command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "OTEL_TRACES_EXPORTER must be otlp, console or none, not 'jaeger'" in done.stderr
