"""Agent runs and daily budgets, on the in-memory event store and a usage ledger that is
a dictionary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from application.budgets import Budgets, DailyUsage
from application.commands import CommandRunner
from application.context import CommandContext
from application.conversations import Conversations
from application.errors import BudgetExceeded, NotFound, UsageUnavailable
from application.identity import Identity
from application.runs import Runs
from domain.agent_run import AgentRun
from domain.conversation import Conversation
from domain.errors import RunIsFinished, ToolCallConflict
from domain.identity import Budget
from tests.unit.application.memory import MemoryEventStore

UNBOUNDED = Budget()


@dataclass
class Ledger:
    """Usage by tenant, as the usage read model would count it."""

    usage: dict[str, DailyUsage] = field(default_factory=dict)

    def usage_on(self, tenant_id: str, day: date) -> DailyUsage:
        return self.usage.get(tenant_id, DailyUsage(0, 0.0, 0))


@dataclass
class World:
    store: MemoryEventStore
    ledger: Ledger
    conversations: Conversations
    runs: Runs
    identity: Identity


def context(tenant: str = "acme") -> CommandContext:
    return CommandContext(tenant, "key:k1", "test")


def world(default: Budget = UNBOUNDED) -> World:
    store, ledger = MemoryEventStore(), Ledger()
    runner = CommandRunner(store)
    runs = Runs(store, runner, Budgets(store, ledger, default))
    return World(store, ledger, Conversations(store, runner), runs, Identity(store, runner))


async def conversation(w: World, tenant: str = "acme") -> UUID:
    return (await w.conversations.start(context(tenant), "Support", ["ada"])).id


async def started_run(w: World, tenant: str = "acme") -> UUID:
    conversation_id = await conversation(w, tenant)
    result = await w.runs.start(context(tenant), conversation_id, "helper", "m-1", None)
    return result.id


async def test_a_completed_run_posts_its_answer_in_the_same_commit() -> None:
    w = world()
    run_id = await started_run(w)
    result = await w.runs.complete(context(), run_id, "Done.", {"output_tokens": 12})

    completed, posted = w.store.log[-2:]
    assert {completed.type, posted.type} == {"AgentRunCompleted", "MessagePosted"}
    assert completed.metadata["command_id"] == posted.metadata["command_id"]
    assert posted.data["content"] == "Done." and posted.data["tokens"] == 12
    assert result.fields["message_id"] == str(posted.data["message_id"])
    run = w.store.get(run_id, AgentRun)
    assert w.store.get(run.conversation_id, Conversation).message_count == 1


async def test_a_run_cannot_complete_with_a_tool_call_open_and_nothing_is_posted() -> None:
    w = world()
    run_id = await started_run(w)
    await w.runs.start_tool(context(), run_id, "c1", "search", {"q": "x"})
    with pytest.raises(ToolCallConflict):
        await w.runs.complete(context(), run_id, "Done.", {})
    assert "MessagePosted" not in w.store.types()


async def test_a_finished_run_takes_no_more_steps() -> None:
    w = world()
    run_id = await started_run(w)
    await w.runs.cancel(context(), run_id, "user left")
    with pytest.raises(RunIsFinished):
        await w.runs.think(context(), run_id, "still here?")
    with pytest.raises(RunIsFinished):
        await w.runs.check_running("acme", run_id)


async def test_a_run_is_started_only_in_the_tenants_own_conversation() -> None:
    w = world()
    theirs = await conversation(w, "globex")
    with pytest.raises(NotFound):
        await w.runs.start(context(), theirs, "helper", "m-1", None)
    run_id = await started_run(w, "globex")
    with pytest.raises(NotFound):
        await w.runs.think(context("acme"), run_id, "peek")


async def test_an_unbounded_tenant_starts_runs_whatever_it_used() -> None:
    w = world()
    w.ledger.usage["acme"] = DailyUsage(10**9, 10**6, 0)
    await started_run(w)
    assert w.store.types().count("AgentRunStarted") == 1


async def test_the_servers_default_budget_refuses_a_run_once_used_up_until_tomorrow() -> None:
    w = world(Budget(daily_tokens=1_000))
    conversation_id = await conversation(w)
    w.ledger.usage["acme"] = DailyUsage(1_000, 0.0, 0)
    with pytest.raises(BudgetExceeded) as refused:
        await w.runs.start(context(), conversation_id, "helper", "m-1", None)
    now = datetime.now(UTC)
    assert 0 < refused.value.retry_after_s <= 86_400 - (now.hour * 3600 + now.minute * 60) + 60
    assert "AgentRunStarted" not in w.store.types()
    w.ledger.usage["globex"] = DailyUsage(999, 0.0, 0)
    await started_run(w, "globex")  # another tenant's usage is its own


async def test_a_tenants_own_budget_overrides_the_default_bound_by_bound() -> None:
    w = world(Budget(daily_tokens=1_000, daily_cost_usd=1.0))
    await w.identity.issue_key(context(), "acme", "ops", ["admin"])
    await w.identity.set_budget(context(), "acme", daily_tokens=5_000, daily_cost_usd=None)
    w.ledger.usage["acme"] = DailyUsage(4_999, 0.5, 0)
    await started_run(w)
    w.ledger.usage["acme"] = DailyUsage(10, 1.0, 0)  # the default's cost bound still holds
    with pytest.raises(BudgetExceeded):
        await started_run(w)


async def test_usage_that_cannot_be_counted_refuses_a_bounded_tenants_run() -> None:
    w = world(Budget(daily_cost_usd=5.0))
    w.ledger.usage["acme"] = DailyUsage(0, 0.0, parked_events=2)
    with pytest.raises(UsageUnavailable) as refused:
        await started_run(w)
    assert "2 of the tenant's usage events" in str(refused.value)
    assert "AgentRunStarted" not in w.store.types()
