"""Alert rules, and the alerts they raise, with Prometheus's lifecycle.

A rule watches one metric over a window: ``metric op threshold`` (``runs_failed >= 2``
over 300 s). When its condition starts to hold, an alert is *pending*; if it still holds
``for_s`` later, the alert *fires* (at once when ``for_s`` is 0). Someone may
*acknowledge* a firing alert. An alert *resolves* when its condition no longer holds:
a pending one at the first evaluation that finds it so, a firing one only after it has
not held for ``for_s`` (at least one evaluation) in a row. That hysteresis keeps a metric
hovering at its threshold from firing and resolving at every evaluation. While a rule is
muted it opens no alert; a rule deleted opens none again, and its open alert resolves.
Time is given, never read, so all of it is deterministic.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal, get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.errors import AlertNotFiring, InvalidValue
from domain.ids import TimeOrderedAggregate
from domain.tenancy import SYSTEM_TENANT, TenantOwned
from domain.values import check_chars, in_utc

Op = Literal[">", ">=", "<", "<=", "==", "!="]
OPS: tuple[str, ...] = get_args(Op)
Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
Step = Literal["open", "fire", "resolve"]
PENDING, FIRING, ACKNOWLEDGED, RESOLVED = "pending", "firing", "acknowledged", "resolved"
METRIC = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
NAME_MAX_CHARS = 200
NOTE_MAX_CHARS = 2000
LABELS_MAX = 20
LABEL_VALUE_MAX_CHARS = 200
WINDOW_MIN_S, WINDOW_MAX_S = 60, 7 * 24 * 3600
FOR_MAX_S = 24 * 3600
THRESHOLD_MAX = 1e15
BUILT_IN_NAMESPACE = uuid5(NAMESPACE_URL, "https://chronicle.dev/alert-rules/built-in")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def holds(op: str, value: float | None, threshold: float) -> bool:
    """Whether ``value op threshold``; no value (no data) holds nothing."""
    return value is not None and _COMPARE[op](value, threshold)


def check_condition(
    metric: str, op: str, threshold: float, window_s: int, for_s: int, severity: str
) -> None:
    if not METRIC.fullmatch(metric):
        raise InvalidValue("metric", "must be 1 to 64 of a-z, 0-9 or '_', starting with a letter")
    if op not in OPS:
        raise InvalidValue("op", f"must be one of {' '.join(OPS)}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidValue("threshold", "must be a number")
    if not math.isfinite(threshold) or abs(threshold) > THRESHOLD_MAX:
        raise InvalidValue("threshold", f"must be a number within ±{THRESHOLD_MAX:g}")
    for field, value, low, high in (
        ("window_s", window_s, WINDOW_MIN_S, WINDOW_MAX_S),
        ("for_s", for_s, 0, FOR_MAX_S),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidValue(field, f"must be a whole number of seconds from {low} to {high}")
    if severity not in SEVERITIES:
        raise InvalidValue("severity", f"must be one of {', '.join(SEVERITIES)}")


def check_labels(labels: dict[str, str]) -> None:
    if len(labels) > LABELS_MAX:
        raise InvalidValue("labels", f"at most {LABELS_MAX}")
    for key, value in labels.items():
        if not LABEL.fullmatch(key):
            raise InvalidValue("labels", f"{key!r} is not a label name (A-Z, a-z, 0-9, '_')")
        check_chars("labels", value, LABEL_VALUE_MAX_CHARS, minimum=0)


def check_rule(
    name: str,
    metric: str,
    op: str,
    threshold: float,
    window_s: int,
    for_s: int,
    severity: str,
    labels: dict[str, str],
) -> None:
    """A rule's name, condition and labels, as every way of making or changing one needs."""
    check_chars("name", name, NAME_MAX_CHARS)
    check_condition(metric, op, threshold, window_s, for_s, severity)
    check_labels(labels)


class AlertRule(TimeOrderedAggregate, TenantOwned):
    """A tenant's condition on one of its metrics (operators' rules belong to the
    ``_system`` tenant)."""

    category = "alert"

    @event("AlertRuleCreated")
    def __init__(
        self,
        tenant_id: str,
        name: str,
        metric: str,
        op: str,
        threshold: float,
        window_s: int,
        for_s: int,
        severity: str,
        labels: dict[str, str],
    ) -> None:
        self.tenant_id = tenant_id
        self._set(name, metric, op, threshold, window_s, for_s, severity, labels)
        self.muted_until: datetime | None = None
        self.deleted = False

    @classmethod
    def create(
        cls,
        tenant_id: str,
        name: str,
        metric: str,
        op: str,
        threshold: float,
        window_s: int,
        for_s: int = 0,
        severity: str = "warning",
        labels: dict[str, str] | None = None,
    ) -> AlertRule:
        check_rule(name, metric, op, threshold, window_s, for_s, severity, labels or {})
        return cls(tenant_id, name, metric, op, threshold, window_s, for_s, severity, labels or {})

    @staticmethod
    def built_in_id(name: str) -> UUID:
        return uuid5(BUILT_IN_NAMESPACE, name)

    @classmethod
    def built_in(
        cls,
        name: str,
        metric: str,
        op: str,
        threshold: float,
        window_s: int,
        for_s: int,
        severity: str,
        labels: dict[str, str],
    ) -> AlertRule:
        """One of the operators' rules Chronicle ships (tenant ``_system``), its id
        derived from its name (`built_in_id`), so that creating it twice conflicts."""
        check_rule(name, metric, op, threshold, window_s, for_s, severity, labels)
        return cls._create(
            cls.AlertRuleCreated,  # type: ignore[attr-defined]
            id=cls.built_in_id(name),
            tenant_id=SYSTEM_TENANT,
            name=name,
            metric=metric,
            op=op,
            threshold=threshold,
            window_s=window_s,
            for_s=for_s,
            severity=severity,
            labels=labels,
        )

    def _set(
        self,
        name: str,
        metric: str,
        op: str,
        threshold: float,
        window_s: int,
        for_s: int,
        severity: str,
        labels: dict[str, str],
    ) -> None:
        self.name, self.metric, self.op, self.threshold = name, metric, op, threshold
        self.window_s, self.for_s, self.severity = window_s, for_s, severity
        self.labels = dict(labels)

    def update(
        self,
        name: str,
        metric: str,
        op: str,
        threshold: float,
        window_s: int,
        for_s: int,
        severity: str,
        labels: dict[str, str],
    ) -> None:
        self._check_kept()
        check_rule(name, metric, op, threshold, window_s, for_s, severity, labels)
        self._updated(name, metric, op, threshold, window_s, for_s, severity, labels)

    @event("AlertRuleUpdated")
    def _updated(
        self,
        name: str,
        metric: str,
        op: str,
        threshold: float,
        window_s: int,
        for_s: int,
        severity: str,
        labels: dict[str, str],
    ) -> None:
        self._set(name, metric, op, threshold, window_s, for_s, severity, labels)

    def mute(self, until: datetime) -> None:
        """Open no alert before ``until`` (an alert already open carries on)."""
        self._check_kept()
        self._muted(in_utc("until", until).isoformat())

    @event("AlertRuleMuted")
    def _muted(self, until: str) -> None:
        self.muted_until = datetime.fromisoformat(until)

    def delete(self) -> None:
        self._check_kept()
        self._deleted()

    @event("AlertRuleDeleted")
    def _deleted(self) -> None:
        self.deleted = True

    def _check_kept(self) -> None:
        if self.deleted:
            raise InvalidValue("rule", "was deleted")

    def holds(self, value: float | None) -> bool:
        return holds(self.op, value, self.threshold)

    def muted_at(self, now: datetime) -> bool:
        return self.muted_until is not None and now < self.muted_until


class Alert(TimeOrderedAggregate, TenantOwned):
    """One episode of a rule's condition holding: pending, firing, acknowledged,
    resolved."""

    category = "alert"

    @event("AlertPending")
    def __init__(
        self,
        tenant_id: str,
        rule_id: UUID,
        rule: str,
        metric: str,
        severity: str,
        value: float,
        since: str,
    ) -> None:
        self.tenant_id = tenant_id
        self.rule_id = rule_id
        self.state = PENDING
        self.since = datetime.fromisoformat(since)

    @classmethod
    def open(cls, rule: AlertRule, value: float, now: datetime) -> Alert:
        return cls(
            rule.tenant_id,
            rule.id,
            rule.name,
            rule.metric,
            rule.severity,
            value,
            in_utc("now", now).isoformat(),
        )

    def fire(self, value: float, now: datetime) -> None:
        if self.state == PENDING:
            self._fired(value, in_utc("now", now).isoformat())

    @event("AlertFired")
    def _fired(self, value: float, at: str) -> None:
        self.state = FIRING

    def acknowledge(self, by: str, note: str = "") -> None:
        """Someone knows: only a firing alert is acknowledged (`AlertNotFiring`)."""
        if self.state != FIRING:
            raise AlertNotFiring(self.id, self.state)
        check_chars("by", by, NAME_MAX_CHARS)
        check_chars("note", note, NOTE_MAX_CHARS, minimum=0)
        self._acknowledged(by, note)

    @event("AlertAcknowledged")
    def _acknowledged(self, by: str, note: str) -> None:
        self.state = ACKNOWLEDGED

    def resolve(self, value: float | None, now: datetime) -> None:
        if self.state != RESOLVED:
            self._resolved(value, in_utc("now", now).isoformat())

    @event("AlertResolved")
    def _resolved(self, value: float | None, at: str) -> None:
        self.state = RESOLVED

    @property
    def is_open(self) -> bool:
        return self.state != RESOLVED


def next_step(
    rule: AlertRule,
    alert: Alert | None,
    value: float | None,
    now: datetime,
    clear_since: datetime | None,
    interval: timedelta,
) -> Step | None:
    """What one evaluation at ``now`` does, given the metric's value over the rule's
    window, the rule's open alert (if any), and since when the condition has been found
    not to hold while that alert fired (``clear_since``; the evaluator keeps it)."""
    held = rule.holds(value)
    if alert is None or not alert.is_open:
        if held and not rule.deleted and not rule.muted_at(now):
            return "open"
        return None
    if rule.deleted:
        return "resolve"
    if alert.state == PENDING:
        if not held:
            return "resolve"  # it never fired
        return "fire" if now - alert.since >= timedelta(seconds=rule.for_s) else None
    if held or clear_since is None:
        return None
    calm = max(timedelta(seconds=rule.for_s), interval)
    return "resolve" if now - clear_since >= calm else None
