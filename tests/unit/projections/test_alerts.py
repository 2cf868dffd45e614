"""The alerts read model: a rule's row follows its changes, an alert's row its lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from projections.alerts import AlertsProjection
from projections.events import (
    AlertAcknowledged,
    AlertFired,
    AlertPending,
    AlertResolved,
    AlertRuleCreated,
    AlertRuleDeleted,
    AlertRuleMuted,
    AlertRuleUpdated,
)
from tests.unit.projections.memory import Log, Tables

SINCE = "2026-12-01T09:00:00+00:00"
RULE: dict[str, Any] = {"name": "runs failing", "metric": "runs_failed", "op": ">=", "threshold": 2}
RULE |= {"window_s": 300, "for_s": 60, "severity": "warning", "labels": {"team": "a"}}


def test_a_rules_row_follows_its_changes_and_is_marked_deleted() -> None:
    log, rule_id = Log(), uuid4()
    tables = Tables().apply(
        AlertsProjection(),
        log.event(AlertRuleCreated, rule_id, tenant_id="acme", **RULE),
        log.event(AlertRuleUpdated, rule_id, **(RULE | {"threshold": 5, "labels": {}})),
        log.event(AlertRuleMuted, rule_id, until=SINCE),
    )
    row = tables.one("alert_rules", rule_id=rule_id)
    assert (row["tenant_id"], row["threshold"], row["labels"], row["version"]) == (
        "acme",
        5,
        "{}",
        3,
    )
    assert row["muted_until"] == datetime.fromisoformat(SINCE) and not row["deleted"]
    tables.apply(AlertsProjection(), log.event(AlertRuleDeleted, rule_id))
    assert tables.one("alert_rules", rule_id=rule_id)["deleted"] is True


def test_an_alerts_row_follows_its_lifecycle() -> None:
    log, rule_id, alert_id = Log(), uuid4(), uuid4()
    pending = log.event(
        AlertPending,
        alert_id,
        tenant_id="acme",
        rule_id=rule_id,
        rule="runs failing",
        metric="runs_failed",
        severity="warning",
        value=2,
        since=SINCE,
    )
    tables = Tables().apply(AlertsProjection(), pending)
    assert tables.one("alerts", alert_id=alert_id)["state"] == "pending"
    tables.apply(
        AlertsProjection(),
        log.event(AlertFired, alert_id, value=3, at=SINCE),
        log.event(AlertAcknowledged, alert_id, by="key:k1", note="looking"),
    )
    row = tables.one("alerts", alert_id=alert_id)
    assert (row["state"], row["value"], row["acknowledged_by"], row["note"]) == (
        "acknowledged",
        3,
        "key:k1",
        "looking",
    )
    tables.apply(AlertsProjection(), log.event(AlertResolved, alert_id, value=None, at=SINCE))
    row = tables.one("alerts", alert_id=alert_id)
    assert (row["state"], row["value"], row["version"], row["position"]) == (
        "resolved",
        None,
        4,
        pending.position,
    )
