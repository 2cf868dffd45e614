"""Every metric's figures, whatever holds them: the counted buckets of the `metrics` read
model, the operational samples (`infrastructure.system_samples`), or a tenant's share of
its budget computed when read. Queries only; who may see what is the caller's decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.identity import Budget
from domain.tenancy import SYSTEM_TENANT
from infrastructure.read_models import Conn
from infrastructure.system_samples import OPERATOR_METRICS, sample_series, sample_totals
from projections.metrics import (
    BUDGET_USED,
    METRICS,
    budget_used,
    metric_series,
    metric_totals,
    steps_from,
)

Figures = dict[str, float | None]
Serieses = dict[str, list[tuple[datetime, float | None]]]
UNBOUNDED = Budget()
DESCRIPTIONS = METRICS | {name: metric.description for name, metric in OPERATOR_METRICS.items()}


def counted(names: list[str]) -> list[str]:
    """The names counted from the log into buckets."""
    return [name for name in names if name not in OPERATOR_METRICS and name != BUDGET_USED]


def sampled(names: list[str]) -> list[str]:
    return [name for name in names if name in OPERATOR_METRICS]


@dataclass(frozen=True)
class MetricFigures:
    """The figures of one tenant (whose budget is ``budget``), or with ``tenant`` None of
    every tenant together (no budget share then)."""

    tenant: str | None
    budget: Budget = UNBOUNDED

    def totals(self, conn: Conn, names: list[str], start: datetime, end: datetime) -> Figures:
        """Each metric's figure over [start, end): a sum or 95th percentile of the minute
        buckets, an operator metric's worst sample, the budget's share as of ``end``."""
        found = metric_totals(conn, self.tenant, counted(names), start, end)
        found |= sample_totals(conn, sampled(names), start, end)
        if BUDGET_USED in names:
            found[BUDGET_USED] = self._budget_used(conn, [end])[0]
        return {name: found[name] for name in names}

    def series(
        self,
        conn: Conn,
        names: list[str],
        label: str | None,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> Serieses:
        """Each metric's figure per ``step`` from the one ``start`` is in until ``end``
        (the budget's share as of the end of each step, and of ``end`` for the last)."""
        found = metric_series(conn, self.tenant, counted(names), label, start, end, step)
        found |= sample_series(conn, sampled(names), label, start, end, step)
        if BUDGET_USED in names:
            steps = steps_from(start, end, step)
            shares = self._budget_used(conn, [min(at + step, end) for at in steps])
            found[BUDGET_USED] = list(zip(steps, shares, strict=True))
        return {name: found[name] for name in names}

    def _budget_used(self, conn: Conn, moments: list[datetime]) -> list[float | None]:
        if self.tenant is None:
            return [None] * len(moments)
        return budget_used(conn, self.tenant, self.budget, moments)


def figures_of(tenant: str, budget_of: Callable[[str], Budget]) -> MetricFigures:
    """The operators' view for ``_system`` (every tenant, and the operator metrics), else
    the tenant's own, with its budget. (Over HTTP, only an admin key of ``_system``.)"""
    if tenant == SYSTEM_TENANT:
        return MetricFigures(None)
    return MetricFigures(tenant, budget_of(tenant))


def names_for(tenant: str) -> list[str]:
    """The metrics of `figures_of` ``tenant``: the tenant metrics, for ``_system`` the
    operator metrics too."""
    return list(DESCRIPTIONS if tenant == SYSTEM_TENANT else METRICS)
