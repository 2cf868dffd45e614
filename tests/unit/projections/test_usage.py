"""The usage read model (each key's runs, tokens and cost per UTC day), applied in memory."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from projections.events import AgentRunCompleted
from projections.usage import UsageProjection
from tests.unit.projections.memory import Log, Tables


def completed(log: Log, actor: str, usage: dict[str, int | float]) -> AgentRunCompleted:
    return log.event(
        AgentRunCompleted,
        uuid4(),
        log.metadata(actor=actor),
        output_message_id=uuid4(),
        usage=usage,
    )


def test_runs_completed_by_one_key_on_one_day_add_up() -> None:
    log = Log()
    first = completed(log, "key:k1", {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.5})
    second = completed(log, "key:k1", {"input_tokens": 1, "cost_usd": 0.25})
    tables = Tables().apply(UsageProjection(), first, second)
    row = tables.one("usage", tenant_id="acme", key_id="k1")
    assert row["day"] == first.recorded_at.date()
    assert (row["runs"], row["input_tokens"], row["output_tokens"]) == (2, 11, 4)
    assert Decimal(str(row["cost_usd"])) == Decimal("0.75")


def test_each_key_has_its_own_row_and_a_run_without_a_key_counts_under_none() -> None:
    log = Log()
    tables = Tables().apply(
        UsageProjection(),
        completed(log, "key:k1", {"input_tokens": 1}),
        completed(log, "key:k2", {"input_tokens": 2}),
        completed(log, "scheduler", {"input_tokens": 3}),
    )
    by_key = {row["key_id"]: row["input_tokens"] for row in tables.rows["usage"]}
    assert by_key == {"k1": 1, "k2": 2, "": 3}
