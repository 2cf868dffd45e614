"""The AgentRun aggregate's rules, without any I/O."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from domain.agent_run import AgentRun
from domain.errors import InvalidValue, RunIsFinished, ToolCallConflict


def run() -> AgentRun:
    return AgentRun.begin("acme", uuid.uuid4(), "planner", "gpt-x", None)


def test_a_run_records_thoughts_and_tool_calls_then_completes() -> None:
    r = run()
    r.think("look it up")
    r.start_tool("c1", "search", {"q": "x"})
    r.finish_tool("c1", {"hits": 1}, None, 12)
    r.complete(uuid.uuid4(), {"input_tokens": 3, "output_tokens": 5, "cost_usd": 0.01})
    kinds = [type(e).__name__ for e in r.collect_events()]
    assert kinds == [
        "AgentRunStarted",
        "AgentThought",
        "ToolExecutionStarted",
        "ToolExecutionCompleted",
        "AgentRunCompleted",
    ]
    assert r.state == "completed"


@pytest.mark.parametrize("end", ["complete", "fail", "cancel"])
def test_nothing_happens_after_a_terminal_state(end: str) -> None:
    r = run()
    {
        "complete": lambda: r.complete(uuid.uuid4(), {}),
        "fail": lambda: r.fail("boom"),
        "cancel": lambda: r.cancel("stop"),
    }[end]()
    steps: list[Callable[[], None]] = [
        lambda: r.think("more"),
        lambda: r.start_tool("c", "t", None),
        lambda: r.complete(uuid.uuid4(), {}),
        lambda: r.fail("again"),
        lambda: r.cancel("again"),
    ]
    for step in steps:
        with pytest.raises(RunIsFinished):
            step()


def test_a_tool_result_needs_a_started_call_once() -> None:
    r = run()
    with pytest.raises(ToolCallConflict):
        r.finish_tool("never", None, None, 1)
    r.start_tool("c1", "search", None)
    with pytest.raises(ToolCallConflict):
        r.start_tool("c1", "search", None)
    r.finish_tool("c1", None, "timeout", 5)
    with pytest.raises(ToolCallConflict):
        r.finish_tool("c1", None, None, 1)


def test_completion_is_refused_while_a_tool_call_is_open() -> None:
    r = run()
    r.start_tool("c1", "search", None)
    with pytest.raises(ToolCallConflict, match="c1"):
        r.complete(uuid.uuid4(), {})
    r.finish_tool("c1", None, None, 3)
    r.complete(uuid.uuid4(), {})


@pytest.mark.parametrize(
    "bad",
    [
        lambda: AgentRun.begin("acme", uuid.uuid4(), "", "m", None),
        lambda: AgentRun.begin("acme", uuid.uuid4(), "a", "x" * 201, None),
        lambda: run().think(""),
        lambda: run().complete(uuid.uuid4(), {"cost_usd": -1}),
    ],
)
def test_bad_values_are_refused(bad: object) -> None:
    with pytest.raises(InvalidValue):
        bad()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"input_tokens": 1, "output_tokens": 2**31}, "usage.output_tokens"),
        ({"input_tokens": 2**62}, "usage.input_tokens"),
        ({"input_tokens": -1}, "usage.input_tokens"),
        ({"cost_usd": float("inf")}, "usage.cost_usd"),
        ({"cost_usd": 1e7}, "usage.cost_usd"),
        ({"tokens": 3}, "usage.tokens"),
    ],
)
def test_usage_must_fit_the_read_models(usage: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidValue) as error:
        run().complete(uuid.uuid4(), usage)
    assert error.value.field == field


def test_tool_arguments_and_results_must_be_storable_json() -> None:
    r = run()
    with pytest.raises(InvalidValue) as error:
        r.start_tool("c1", "search", {"q": "a\x00b"})
    assert error.value.field == "arguments"
    r.start_tool("c1", "search", {"q": "ab"})
    with pytest.raises(InvalidValue) as error:
        r.finish_tool(
            "c1", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], None, 1
        )
    assert error.value.field == "result"
    with pytest.raises(InvalidValue) as error:
        r.finish_tool("c1", None, None, 2**31)
    assert error.value.field == "duration_ms"
