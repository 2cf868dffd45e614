"""Alert rules and their evaluation on the in-memory event store: rules on known metrics
only, each step of an alert a command of the rule's tenant, acknowledgement by the actor,
and an evaluator that, restarted, takes up the open alerts instead of opening others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from application.alerts import BUILT_IN_RULES, Alerts, Condition, Evaluator, OpenAlert
from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import Forbidden, NotFound
from domain.alerts import ACKNOWLEDGED, FIRING, PENDING, RESOLVED, Alert, AlertRule
from domain.errors import AlertNotFiring, InvalidValue
from domain.tenancy import SYSTEM_TENANT
from tests.unit.application.memory import MemoryEventStore

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVERY = timedelta(seconds=15)
FAILING = Condition("runs failing", "runs_failed", ">=", 2, 300, 60)


class Figures:
    """Metric values set by the test, per (tenant, metric)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], float | None] = {}

    def knows(self, metric: str) -> bool:
        return metric in ("runs_failed", "messages", "parked_events")

    def for_operators(self, metric: str) -> bool:
        return metric == "parked_events"

    def value(self, tenant_id: str, metric: str, window_s: int, now: datetime) -> float | None:
        return self.values.get((tenant_id, metric))


class StoreBook:
    """The alert book read from the store itself (the read model's answers, without lag)."""

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store

    def live_rules(self) -> Sequence[UUID]:
        ids = self.store.aggregate_ids(AlertRule)
        return [i for i in ids if not self.store.get(i, AlertRule).deleted]

    def open_alerts(self) -> Sequence[OpenAlert]:
        alerts = [self.store.get(i, Alert) for i in self.store.aggregate_ids(Alert)]
        return [OpenAlert(a.tenant_id, a.rule_id, a.id) for a in alerts if a.is_open]


def context(tenant: str = "acme", actor: str = "key:k1") -> CommandContext:
    return CommandContext(tenant, actor, "alert_rule.create")


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
def figures() -> Figures:
    return Figures()


@pytest.fixture
def alerts(store: MemoryEventStore, figures: Figures) -> Alerts:
    return Alerts(store, CommandRunner(store), figures)


def evaluator(
    store: MemoryEventStore, figures: Figures, built_in: Sequence[Condition] = ()
) -> Evaluator:
    return Evaluator(store, CommandRunner(store), figures, StoreBook(store), EVERY, built_in)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def alert_states(store: MemoryEventStore) -> list[str]:
    return [store.get(i, Alert).state for i in store.aggregate_ids(Alert)]


async def test_a_rule_on_an_unknown_metric_is_refused_naming_the_field(alerts: Alerts) -> None:
    with pytest.raises(InvalidValue) as refused:
        await alerts.create(context(), Condition("x", "nothing_ratio", ">", 0.9, 300))
    assert refused.value.field == "metric"


async def test_an_impossible_condition_is_refused_naming_the_field(alerts: Alerts) -> None:
    with pytest.raises(InvalidValue) as refused:
        await alerts.create(context(), Condition("x", "runs_failed", ">", 1, 30))
    assert refused.value.field == "window_s"


async def test_a_rule_is_updated_muted_and_deleted_then_not_found(
    alerts: Alerts, store: MemoryEventStore
) -> None:
    created = await alerts.create(context(), FAILING)
    changed = Condition("runs failing a lot", "runs_failed", ">", 5, 600, 0, "critical")
    await alerts.update(context(), created.id, changed, expected_version=1)
    await alerts.mute(context(), created.id, at(600))
    await alerts.delete(context(), created.id)
    rule = store.get(created.id, AlertRule)
    assert (rule.threshold, rule.muted_until, rule.deleted) == (5, at(600), True)
    with pytest.raises(NotFound):
        await alerts.mute(context(), created.id, at(900))


async def test_another_tenants_rule_is_not_found(alerts: Alerts) -> None:
    created = await alerts.create(context("acme"), FAILING)
    with pytest.raises(NotFound):
        await alerts.delete(context("globex"), created.id)


async def test_an_alert_is_opened_fired_acknowledged_and_resolved_by_commands(
    alerts: Alerts, store: MemoryEventStore, figures: Figures
) -> None:
    await alerts.create(context(), FAILING)
    watching = evaluator(store, figures)
    figures.values[("acme", "runs_failed")] = 3
    assert [step for _, step in await watching.evaluate(at(0))] == ["open"]
    assert alert_states(store) == [PENDING]
    assert await watching.evaluate(at(30)) == []
    assert [step for _, step in await watching.evaluate(at(60))] == ["fire"]
    (alert_id,) = store.aggregate_ids(Alert)
    await alerts.acknowledge(context(), alert_id, "looking")
    with pytest.raises(AlertNotFiring):
        await alerts.acknowledge(context(), alert_id, "again")
    assert alert_states(store) == [ACKNOWLEDGED]
    figures.values[("acme", "runs_failed")] = 0
    assert await watching.evaluate(at(75)) == []  # calm counts from here, for 60 s
    assert [step for _, step in await watching.evaluate(at(135))] == ["resolve"]
    assert alert_states(store) == [RESOLVED]
    logged = [(e.type, e.metadata["actor"], e.metadata["tenant_id"]) for e in store.log]
    assert [entry for entry in logged if entry[0].startswith("Alert")][1:] == [
        ("AlertPending", "alerts", "acme"),
        ("AlertFired", "alerts", "acme"),
        ("AlertAcknowledged", "key:k1", "acme"),
        ("AlertResolved", "alerts", "acme"),
    ]


async def test_another_tenants_alert_cannot_be_acknowledged(
    alerts: Alerts, store: MemoryEventStore, figures: Figures
) -> None:
    await alerts.create(context(), Condition("any", "runs_failed", ">", 0, 300))
    figures.values[("acme", "runs_failed")] = 1
    await evaluator(store, figures).evaluate(at(0))
    (alert_id,) = store.aggregate_ids(Alert)
    assert alert_states(store) == [FIRING]
    with pytest.raises(NotFound):
        await alerts.acknowledge(context("globex"), alert_id)


async def test_each_tenant_reads_its_own_metric(
    alerts: Alerts, store: MemoryEventStore, figures: Figures
) -> None:
    await alerts.create(context("acme"), FAILING)
    await alerts.create(context("globex"), FAILING)
    figures.values[("globex", "runs_failed")] = 9
    await evaluator(store, figures).evaluate(at(0))
    (alert_id,) = store.aggregate_ids(Alert)
    assert store.get(alert_id, Alert).tenant_id == "globex"


async def test_a_restarted_evaluator_takes_up_the_open_alert(
    alerts: Alerts, store: MemoryEventStore, figures: Figures
) -> None:
    await alerts.create(context(), FAILING)
    figures.values[("acme", "runs_failed")] = 3
    await evaluator(store, figures).evaluate(at(0))
    restarted = evaluator(store, figures)
    assert [step for _, step in await restarted.evaluate(at(60))] == ["fire"]
    assert alert_states(store) == [FIRING]


async def test_a_deleted_rules_open_alert_resolves(
    alerts: Alerts, store: MemoryEventStore, figures: Figures
) -> None:
    created = await alerts.create(context(), FAILING)
    figures.values[("acme", "runs_failed")] = 3
    watching = evaluator(store, figures)
    await watching.evaluate(at(0))
    await alerts.delete(context(), created.id)
    assert [step for _, step in await watching.evaluate(at(15))] == ["resolve"]
    assert await watching.evaluate(at(30)) == []
    assert alert_states(store) == [RESOLVED]


async def test_a_muted_rule_opens_nothing_until_its_time(
    alerts: Alerts, store: MemoryEventStore, figures: Figures
) -> None:
    created = await alerts.create(context(), FAILING)
    await alerts.mute(context(), created.id, at(300))
    figures.values[("acme", "runs_failed")] = 3
    watching = evaluator(store, figures)
    assert await watching.evaluate(at(0)) == []
    assert [step for _, step in await watching.evaluate(at(300))] == ["open"]


async def test_a_rule_on_an_operator_metric_is_the_operators_alone(alerts: Alerts) -> None:
    parked = Condition("parked", "parked_events", ">", 0, 60)
    with pytest.raises(Forbidden, match="metric"):
        await alerts.create(context("acme"), parked)
    assert (await alerts.create(context(SYSTEM_TENANT), parked)).version == 1


async def test_the_built_in_rules_are_made_once_for_the_operators(
    alerts: Alerts, store: MemoryEventStore, figures: Figures
) -> None:
    await evaluator(store, figures, BUILT_IN_RULES).evaluate(at(0))
    rules = [store.get(i, AlertRule) for i in store.aggregate_ids(AlertRule)]
    assert sorted(r.name for r in rules) == sorted(c.name for c in BUILT_IN_RULES)
    assert {r.tenant_id for r in rules} == {SYSTEM_TENANT}
    parked = AlertRule.built_in_id("parked events")
    await alerts.delete(context(SYSTEM_TENANT), parked)  # an operator's choice, kept
    await evaluator(store, figures, BUILT_IN_RULES).evaluate(at(15))
    assert len(store.aggregate_ids(AlertRule)) == len(BUILT_IN_RULES)
    assert store.get(parked, AlertRule).deleted


async def test_a_built_in_rule_is_evaluated_at_the_evaluation_that_makes_it(
    store: MemoryEventStore, figures: Figures
) -> None:
    figures.values[(SYSTEM_TENANT, "parked_events")] = 3
    taken = await evaluator(store, figures, BUILT_IN_RULES).evaluate(at(0))
    parked = AlertRule.built_in_id("parked events")
    assert taken == [(parked, "open"), (parked, "fire")]
