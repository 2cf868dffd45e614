"""The evaluator's ports over read models: metric values from the metrics history, and
the rules and open alerts from the alerts read model. Reads only."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from application.alerts import OpenAlert
from domain.identity import Budget
from domain.tenancy import SYSTEM_TENANT
from infrastructure.metric_figures import UNBOUNDED, MetricFigures
from infrastructure.read_models import ReadStore
from infrastructure.system_samples import OPERATOR_METRICS
from projections.alerts import live_rule_ids, open_alerts
from projections.metrics import BUDGET_USED, METRICS, minute_of

INSTANT = timedelta(microseconds=1)
CATCH_UP_SECONDS = 30.0
log = structlog.get_logger(__name__)


class ReadModelMetrics:
    """A metric's figure over the minute buckets that start in ``(now - window, now]``
    (so an event counts for up to a minute longer than the window: buckets are minutes);
    for ``_system``, of every tenant together. An operator metric's is its worst sample
    in the minute buckets from the one ``now - window`` falls in (samples come every few
    seconds, so a window always holds the last ones). `budget_used_ratio` is the share at
    ``now``, whatever the window (``None`` for ``_system``)."""

    def __init__(self, reads: ReadStore, budget_of: Callable[[str], Budget]) -> None:
        self._reads = reads
        self._budget_of = budget_of

    def knows(self, metric: str) -> bool:
        return metric in METRICS or metric in OPERATOR_METRICS

    def for_operators(self, metric: str) -> bool:
        return metric in OPERATOR_METRICS

    def value(self, tenant_id: str, metric: str, window_s: int, now: datetime) -> float | None:
        operators = tenant_id == SYSTEM_TENANT
        if metric in OPERATOR_METRICS and not operators:
            return None
        budget = self._budget_of(tenant_id) if metric == BUDGET_USED else UNBOUNDED
        figures = MetricFigures(None) if operators else MetricFigures(tenant_id, budget)
        window = timedelta(seconds=window_s)
        start = minute_of(now - window) if metric in OPERATOR_METRICS else now - window + INSTANT
        totals = self._reads.read(lambda conn: figures.totals(conn, [metric], start, now + INSTANT))
        return totals[metric]


class ReadModelAlertBook:
    """Rules and open alerts of every tenant, as the alerts read model has them; open
    alerts only once it has caught up with the log's head (``head``), so an alert opened
    just before a restart is found (after ``CATCH_UP_SECONDS`` it answers what it has)."""

    def __init__(self, reads: ReadStore, head: Callable[[], int]) -> None:
        self._reads = reads
        self._head = head

    def live_rules(self) -> Sequence[UUID]:
        return self._reads.read(live_rule_ids)

    def open_alerts(self) -> Sequence[OpenAlert]:
        head, deadline = self._head(), time.monotonic() + CATCH_UP_SECONDS
        while self._reads.position(("alerts",)) < head:
            if time.monotonic() > deadline:
                log.warning("the alerts read model is behind: open alerts may be missed")
                break
            time.sleep(0.05)
        found = self._reads.read(open_alerts)
        return [OpenAlert(tenant, rule_id, alert_id) for tenant, rule_id, alert_id in found]
