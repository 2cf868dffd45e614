"""Alert rules and alerts: conditions checked, Prometheus's lifecycle (pending, firing
after ``for``, acknowledged, resolved) driven by evaluations, and the hysteresis that
keeps a metric at its threshold from flapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.alerts import (
    ACKNOWLEDGED,
    FIRING,
    PENDING,
    RESOLVED,
    Alert,
    AlertRule,
    next_step,
)
from domain.errors import AlertNotFiring, InvalidValue

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVERY = timedelta(seconds=15)


def rule(**changes: Any) -> AlertRule:
    given: dict[str, Any] = {
        "tenant_id": "acme",
        "name": "runs failing",
        "metric": "runs_failed",
        "op": ">=",
        "threshold": 2,
        "window_s": 300,
        "for_s": 60,
        "severity": "warning",
    }
    return AlertRule.create(**(given | changes))


class Evaluator:
    """Evaluations as the evaluator makes them: steps applied until none is left."""

    def __init__(self, watched: AlertRule) -> None:
        self.rule = watched
        self.alert: Alert | None = None
        self.clear_since: datetime | None = None
        self.steps: list[str] = []

    def at(self, seconds: int, value: float | None) -> str | None:
        now = T0 + timedelta(seconds=seconds)
        alert = self.alert
        if alert is not None and alert.state in (FIRING, ACKNOWLEDGED):
            held = self.rule.holds(value)
            self.clear_since = None if held else (self.clear_since or now)
        while step := next_step(self.rule, self.alert, value, now, self.clear_since, EVERY):
            self.steps.append(step)
            if step == "open":
                self.alert = Alert.open(self.rule, value or 0, now)
            elif step == "fire":
                assert self.alert is not None
                self.alert.fire(value or 0, now)
            else:
                assert self.alert is not None
                self.alert.resolve(value, now)
                self.clear_since = None
                break
        return self.alert.state if self.alert else None


def test_an_alert_is_pending_then_fires_when_its_condition_holds_for_long_enough() -> None:
    evaluator = Evaluator(rule())
    assert evaluator.at(0, 1) is None
    assert evaluator.at(15, 2) == PENDING
    assert evaluator.at(60, 3) == PENDING
    assert evaluator.at(75, 2) == FIRING
    assert evaluator.steps == ["open", "fire"]
    assert evaluator.alert is not None
    assert [type(e).__name__ for e in evaluator.alert.collect_events()] == [
        "AlertPending",
        "AlertFired",
    ]


def test_a_rule_without_for_fires_at_once() -> None:
    evaluator = Evaluator(rule(for_s=0))
    assert evaluator.at(0, 5) == FIRING
    assert evaluator.steps == ["open", "fire"]


def test_a_pending_alert_whose_condition_clears_resolves_without_firing() -> None:
    evaluator = Evaluator(rule())
    evaluator.at(0, 2)
    assert evaluator.at(15, 0) == RESOLVED
    assert evaluator.steps == ["open", "resolve"]
    assert evaluator.at(30, 2) == PENDING  # a new episode, a new alert
    assert evaluator.steps[-1] == "open"


def test_a_firing_alert_resolves_only_once_calm_for_the_for_duration() -> None:
    evaluator = Evaluator(rule(for_s=60))
    evaluator.at(0, 2)
    evaluator.at(60, 2)
    assert evaluator.alert is not None and evaluator.alert.state == FIRING
    for seconds, value in [(75, 1), (90, 2), (105, 1), (120, 1), (150, 1)]:
        assert evaluator.at(seconds, value) == FIRING  # hovering: no flapping
    assert evaluator.at(165, 1) == RESOLVED  # calm since 105, for 60 s
    assert evaluator.steps == ["open", "fire", "resolve"]


def test_with_no_for_a_firing_alert_still_waits_one_evaluation_to_resolve() -> None:
    evaluator = Evaluator(rule(for_s=0))
    evaluator.at(0, 2)
    assert evaluator.at(15, None) == FIRING  # no data holds nothing, but once is not calm
    assert evaluator.at(30, None) == RESOLVED


def test_an_acknowledged_alert_resolves_as_a_firing_one() -> None:
    evaluator = Evaluator(rule(for_s=0))
    evaluator.at(0, 2)
    assert evaluator.alert is not None
    evaluator.alert.acknowledge("user:ada", "looking")
    assert evaluator.alert.state == ACKNOWLEDGED
    with pytest.raises(AlertNotFiring):
        evaluator.alert.acknowledge("user:bob")
    evaluator.at(15, 0)
    assert evaluator.at(30, 0) == RESOLVED


def test_a_pending_alert_cannot_be_acknowledged() -> None:
    evaluator = Evaluator(rule())
    evaluator.at(0, 2)
    assert evaluator.alert is not None
    with pytest.raises(AlertNotFiring):
        evaluator.alert.acknowledge("user:ada")


def test_a_muted_rule_opens_nothing_and_a_deleted_one_resolves_its_alert() -> None:
    muted = rule()
    muted.mute(T0 + timedelta(minutes=10))
    evaluator = Evaluator(muted)
    assert evaluator.at(0, 9) is None
    assert evaluator.at(600, 9) == PENDING
    deleted = Evaluator(rule(for_s=0))
    deleted.at(0, 9)
    deleted.rule.delete()
    assert deleted.at(15, 9) == RESOLVED
    assert deleted.at(30, 9) == RESOLVED  # and opens no other
    with pytest.raises(InvalidValue):
        deleted.rule.update("x", "runs_failed", ">", 1, 300, 0, "info", {})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"metric": "Runs Failed"}, "metric"),
        ({"op": "=>"}, "op"),
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"threshold": 1e16}, "threshold"),
        ({"window_s": 59}, "window_s"),
        ({"window_s": 7 * 24 * 3600 + 1}, "window_s"),
        ({"for_s": -1}, "for_s"),
        ({"for_s": 1.5}, "for_s"),
        ({"severity": "fatal"}, "severity"),
        ({"labels": {"bad key": "x"}}, "labels"),
        ({"labels": {f"k{i}": "v" for i in range(21)}}, "labels"),
    ],
)
def test_an_impossible_rule_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        rule(**changes)
    assert refused.value.field == field


def test_a_rule_records_its_changes() -> None:
    watched = rule(labels={"team": "agents"})
    watched.update("runs failing a lot", "runs_failed", ">", 5, 600, 120, "critical", {})
    watched.mute(T0)
    names = [type(e).__name__ for e in watched.collect_events()]
    assert names == ["AlertRuleCreated", "AlertRuleUpdated", "AlertRuleMuted"]
    assert (watched.threshold, watched.severity, watched.labels) == (5, "critical", {})
