"""Use cases of alert rules and alerts: rules are created, changed, muted and deleted by a
tenant; alerts are acknowledged by someone, and opened, fired and resolved by `Evaluator`,
which also creates the operators' built-in rules (`BUILT_IN_RULES`, tenant ``_system``).

Each change is a command through the runner (so audited); nothing here reads the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

import structlog

from application.commands import CommandRunner, check_expected_version
from application.context import CommandContext
from application.errors import Forbidden, NotFound
from application.ports import Change, CommandResult, EventStore
from application.tenancy import load_owned
from domain.alerts import ACKNOWLEDGED, FIRING, Alert, AlertRule, Step, next_step
from domain.errors import InvalidValue
from domain.tenancy import SYSTEM_TENANT

log = structlog.get_logger(__name__)
EVALUATOR = "alerts"  # the actor of the evaluator's commands


@dataclass(frozen=True)
class Condition:
    """What a rule watches and when it fires."""

    name: str
    metric: str
    op: str
    threshold: float
    window_s: int
    for_s: int = 0
    severity: str = "warning"
    labels: dict[str, str] | None = None

    def args(self) -> tuple[str, str, str, float, int, int, str, dict[str, str]]:
        """The rule's fields, in the order `AlertRule` takes them."""
        return (
            self.name,
            self.metric,
            self.op,
            self.threshold,
            self.window_s,
            self.for_s,
            self.severity,
            dict(self.labels or {}),
        )


# The operators' rules Chronicle ships, created for `SYSTEM_TENANT` when an evaluator
# starts (once: operators may change, mute or delete them like any rule).
BUILT_IN_RULES = (
    Condition("projection lag", "projection_lag_s", ">=", 60, 60, 60, "warning"),
    Condition("parked events", "parked_events", ">", 0, 60, 0, "critical"),
    Condition("relay lag", "relay_lag_events", ">=", 1000, 60, 60, "warning"),
    Condition("dead-lettered tasks", "tasks_dead_lettered", ">", 0, 300, 0, "warning"),
    Condition("store unavailable", "store_available", "<", 1, 60, 0, "critical"),
)


class MetricReader(Protocol):
    """A tenant's metrics, as the evaluator reads them."""

    def knows(self, metric: str) -> bool:
        """Whether ``metric`` is a metric name a rule may watch."""

    def for_operators(self, metric: str) -> bool:
        """Whether ``metric`` is an operational one, which only `SYSTEM_TENANT` watches."""

    def value(self, tenant_id: str, metric: str, window_s: int, now: datetime) -> float | None:
        """The metric's figure over the ``window_s`` seconds before ``now``; ``None``
        without data (a percentile without samples)."""


@dataclass(frozen=True)
class OpenAlert:
    tenant_id: str
    rule_id: UUID
    alert_id: UUID


class AlertBook(Protocol):
    """Where the evaluator finds its work again (a read model; it may lag the log)."""

    def live_rules(self) -> Sequence[UUID]:
        """Ids of every rule not deleted, of every tenant."""

    def open_alerts(self) -> Sequence[OpenAlert]:
        """Every alert not resolved, with its rule."""


class Alerts:
    """Command handlers of rules, and the acknowledgement of an alert."""

    def __init__(self, store: EventStore, runner: CommandRunner, metrics: MetricReader) -> None:
        self._store = store
        self._runner = runner
        self._metrics = metrics

    async def create(self, context: CommandContext, condition: Condition) -> CommandResult:
        """A rule on one of the tenant's metrics (``InvalidValue("metric")`` if unknown)."""
        self._check_metric(context, condition.metric)

        def decide() -> Change:
            rule = AlertRule.create(context.tenant_id, *condition.args())
            return Change((rule,), rule)

        return await self._runner.run(context, decide, decide_blocks=False)

    async def update(
        self,
        context: CommandContext,
        rule_id: UUID,
        condition: Condition,
        expected_version: int | None = None,
    ) -> CommandResult:
        self._check_metric(context, condition.metric)

        def decide() -> Change:
            rule = self._rule(context.tenant_id, rule_id, expected_version)
            rule.update(*condition.args())
            return Change((rule,), rule)

        return await self._runner.run(context, decide, expected_version=expected_version)

    async def mute(
        self,
        context: CommandContext,
        rule_id: UUID,
        until: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Open no alert of the rule before ``until``."""

        def decide() -> Change:
            rule = self._rule(context.tenant_id, rule_id, expected_version)
            rule.mute(until)
            return Change((rule,), rule)

        return await self._runner.run(context, decide, expected_version=expected_version)

    async def delete(
        self, context: CommandContext, rule_id: UUID, expected_version: int | None = None
    ) -> CommandResult:
        """The rule opens no alert again (its open one resolves at the next evaluation);
        it is then `NotFound`."""

        def decide() -> Change:
            rule = self._rule(context.tenant_id, rule_id, expected_version)
            rule.delete()
            return Change((rule,), rule)

        return await self._runner.run(context, decide, expected_version=expected_version)

    async def acknowledge(
        self, context: CommandContext, alert_id: UUID, note: str = ""
    ) -> CommandResult:
        """The context's actor knows of a firing alert (`AlertNotFiring` otherwise)."""

        def decide() -> Change:
            alert = load_owned(self._store, alert_id, Alert, context.tenant_id)
            alert.acknowledge(context.actor, note)
            return Change((alert,), alert)

        # The evaluator may resolve it meanwhile: retried, that is a 409.
        return await self._runner.run(context, decide, retry_on_conflict=True)

    def _check_metric(self, context: CommandContext, metric: str) -> None:
        if not self._metrics.knows(metric):
            raise InvalidValue("metric", f"{metric[:64]!r} is not a known metric")
        if self._metrics.for_operators(metric) and context.tenant_id != SYSTEM_TENANT:
            raise Forbidden(
                f"metric: {metric!r} is an operator metric, for keys of the"
                f" {SYSTEM_TENANT!r} tenant"
            )

    def _rule(self, tenant_id: str, rule_id: UUID, expected_version: int | None) -> AlertRule:
        """The tenant's rule, not deleted; ``NotFound`` otherwise."""
        rule = load_owned(self._store, rule_id, AlertRule, tenant_id)
        if rule.deleted:
            raise NotFound(f"alert rule {rule_id} not found")
        check_expected_version(rule, expected_version)
        return rule


class Evaluator:
    """Evaluates every rule at a given time: reads its metric and applies `next_step`
    until none is left, each step a command of the rule's tenant.

    It keeps in memory each rule's open alert and since when a firing one's condition has
    not held (``clear_since``); `recover` finds the open alerts again after a restart, so
    none is opened twice. (A restart forgets ``clear_since``: calm is counted again.)
    At its first evaluation it creates each of ``built_in`` that does not exist yet, and
    evaluates them from then on even before the read model shows them.
    """

    def __init__(
        self,
        store: EventStore,
        runner: CommandRunner,
        metrics: MetricReader,
        book: AlertBook,
        interval: timedelta,
        built_in: Sequence[Condition] = (),
    ) -> None:
        self._store = store
        self._runner = runner
        self._metrics = metrics
        self._book = book
        self.interval = interval
        self._built_in = built_in
        self._built_in_made = not built_in
        self._open: dict[UUID, UUID] = {}  # rule id → its open alert's id
        self._clear_since: dict[UUID, datetime] = {}
        self._recovered = False

    def recover(self) -> None:
        """Take up the open alerts the read model knows of."""
        self._open = {found.rule_id: found.alert_id for found in self._book.open_alerts()}
        self._clear_since.clear()
        self._recovered = True

    async def evaluate(self, now: datetime) -> list[tuple[UUID, Step]]:
        """One evaluation of every rule (and of deleted ones whose alert is open) at
        ``now``; the steps taken, by rule. A rule that fails is logged and skipped."""
        if not self._recovered:
            await asyncio.to_thread(self.recover)
        if not self._built_in_made:
            self._built_in_made = await self._create_built_in()
        rules = await asyncio.to_thread(self._book.live_rules)
        built_in = [AlertRule.built_in_id(condition.name) for condition in self._built_in]
        taken: list[tuple[UUID, Step]] = []
        for rule_id in dict.fromkeys([*rules, *built_in, *self._open]):
            try:
                taken.extend((rule_id, step) for step in await self._evaluate(rule_id, now))
            except Exception as error:
                log.warning(
                    "could not evaluate an alert rule",
                    rule_id=str(rule_id),
                    error=f"{type(error).__name__}: {error}",
                )
        return taken

    async def _create_built_in(self) -> bool:
        """Create the built-in rules not created yet (a deleted one stays deleted);
        whether they all exist now (a conflict means another evaluator made one)."""
        made = True
        for condition in self._built_in:
            try:
                await self._create_one(condition)
            except Exception as error:
                made = False
                log.warning(
                    "could not create a built-in alert rule",
                    rule=condition.name,
                    error=f"{type(error).__name__}: {error}",
                )
        return made

    async def _create_one(self, condition: Condition) -> None:
        rule_id = AlertRule.built_in_id(condition.name)
        try:
            await asyncio.to_thread(self._store.get, rule_id, AlertRule)
            return
        except NotFound:
            pass

        def decide() -> Change:
            rule = AlertRule.built_in(*condition.args())
            return Change((rule,), rule)

        context = CommandContext(SYSTEM_TENANT, EVALUATOR, "alert_rule.create")
        await self._runner.run(context, decide, decide_blocks=False)

    async def _evaluate(self, rule_id: UUID, now: datetime) -> list[Step]:
        rule, alert = await asyncio.to_thread(self._load, rule_id)
        value = await asyncio.to_thread(
            self._metrics.value, rule.tenant_id, rule.metric, rule.window_s, now
        )
        if alert is not None and alert.state in (FIRING, ACKNOWLEDGED):
            if rule.holds(value):
                self._clear_since.pop(rule_id, None)
            else:
                self._clear_since.setdefault(rule_id, now)
        steps: list[Step] = []
        clear_since = self._clear_since.get(rule_id)
        while step := next_step(rule, alert, value, now, clear_since, self.interval):
            steps.append(step)
            alert = await self._take(step, rule, alert, value, now)
            if step == "resolve":
                self._open.pop(rule_id, None)
                self._clear_since.pop(rule_id, None)
                break
            self._open[rule_id] = alert.id
        return steps

    def _load(self, rule_id: UUID) -> tuple[AlertRule, Alert | None]:
        rule = self._store.get(rule_id, AlertRule)
        alert_id = self._open.get(rule_id)
        alert = None if alert_id is None else self._store.get(alert_id, Alert)
        if alert is not None and not alert.is_open:  # resolved elsewhere
            self._open.pop(rule_id, None)
            alert = None
        return rule, alert

    async def _take(
        self, step: Step, rule: AlertRule, alert: Alert | None, value: float | None, now: datetime
    ) -> Alert:
        """Commit one step; the alert as it is after it."""
        context = CommandContext(tenant_id=rule.tenant_id, actor=EVALUATOR, command=f"alert.{step}")
        if step == "open":
            opened = Alert.open(rule, value or 0.0, now)
            await self._runner.run(context, lambda: Change((opened,), opened), decide_blocks=False)
            return opened
        assert alert is not None
        alert_id = alert.id

        def decide() -> Change:
            current = self._store.get(alert_id, Alert)
            if step == "fire":
                current.fire(value or 0.0, now)
            else:
                current.resolve(value, now)
            return Change((current,), current)

        await self._runner.run(context, decide, retry_on_conflict=True)
        return await asyncio.to_thread(self._store.get, alert_id, Alert)
