"""The usage ledger of budgets, over the usage read model and its parked events."""

from __future__ import annotations

from datetime import date

from application.budgets import DailyUsage
from infrastructure.parking import parked_count
from infrastructure.read_models import Conn, ReadStore
from projections.usage import usage_of_day


class ReadModelLedger:
    """A tenant's daily usage from one snapshot of the usage read model."""

    def __init__(self, reads: ReadStore) -> None:
        self._reads = reads

    def usage_on(self, tenant_id: str, day: date) -> DailyUsage:
        def counted(conn: Conn) -> DailyUsage:
            usage = usage_of_day(conn, tenant_id, day)
            parked = parked_count(conn, "usage", tenant_id)
            return DailyUsage(usage["tokens"], usage["cost_usd"], parked)

        usage, _ = self._reads.query(("usage",), counted)
        return usage
