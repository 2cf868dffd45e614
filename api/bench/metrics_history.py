"""Metrics-history scenario: the ``metrics`` projection's rebuild rate beside a raw read of
the same log, and beside the ``messages`` rebuild (a projection of one row an event).

The projection is a follower: it reads the log after commit, so it adds nothing to the
append path (no figure to measure there); what it costs is this rate, at catch-up.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

from api.bench.rebuild import raw_read_rate, rebuild_rate
from api.bench.report import Plan, Report, fresh_database
from api.bench.workload import fill_log, settle
from api.bootstrap import Container
from infrastructure.settings import Settings


def bench_metrics_scenario(
    settings: Settings, plan: Plan, report: Report, say: Callable[[str], None]
) -> None:
    size = plan.rebuild_sizes[0]
    dsn = fresh_database(settings.database_url or "", "bench_metrics")
    container = Container.build(Settings(database_url=dsn, master_key=settings.master_key))
    try:
        say(f"metrics: loading {size:,} events")
        fill_log(dsn, size)
        settle(dsn)
        say(f"metrics: {plan.runs} runs of raw read, metrics and messages rebuilds at {size:,}")
        raws, rates, messages = [], [], []
        for _ in range(plan.runs):  # interleaved, so the machine's drift hits all three
            raws.append(raw_read_rate(dsn))
            rates.append(rebuild_rate(container, "metrics"))
            messages.append(rebuild_rate(container, "messages"))
    finally:
        container.close()
    raw, rate = statistics.median(raws), statistics.median(rates)
    message_rate = statistics.median(messages)
    report.add(
        "metrics_raw_read_events_per_s",
        round(raw),
        f"raw read {size:,} events (metrics)",
        f"{raw:,.0f} events/s",
    )
    report.add(
        "metrics_rebuild_events_per_s",
        round(rate),
        f"rebuild metrics {size:,}",
        f"{rate:,.0f} events/s",
    )
    report.add(
        "metrics_rebuild_vs_raw_read",
        round(rate / raw, 3),
        "metrics rebuild / raw read",
        f"{rate / raw:.3f}",
    )
    report.add(
        "metrics_rebuild_vs_messages_rebuild",
        round(rate / message_rate, 3),
        "metrics rebuild / messages rebuild",
        f"{rate / message_rate:.3f}",
    )
