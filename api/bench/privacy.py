"""Privacy scenario: what sealing personal values costs the write path and a rebuild,
each against the same code on the same servers with nothing sealed, runs interleaved.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import replace

from api.bench.append import WARM_UP, store_rate
from api.bench.rebuild import rebuild_rate
from api.bench.report import Plan, Report, checkpoint, fresh_database
from api.bench.workload import fill_log, settle
from api.bootstrap import Container
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings

Say = Callable[[str], None]


def bench_privacy_scenario(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    bench_append_sealed(settings, plan, report, say)
    bench_rebuild_sealed(settings, plan, report, say)


def bench_append_sealed(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    """Conversation starts (a title sealed, a new subject's key each) through the store,
    beside the same starts through a store that seals nothing, on one database."""
    dsn = fresh_database(settings.database_url or "", "bench_privacy_append")
    sealing = PostgresEventStore(replace(settings, database_url=dsn))
    plain = PostgresEventStore(replace(settings, database_url=dsn), seal_personal=False)
    try:
        store_rate(sealing, WARM_UP), store_rate(plain, WARM_UP)
        checkpoint(dsn)
        say(
            f"privacy: {plan.append_runs} runs of {plan.append_commands:,} starts, sealed and plain"
        )
        sealed_rates, plain_rates = [], []
        for _ in range(plan.append_runs):
            plain_rates.append(store_rate(plain, plan.append_commands))
            sealed_rates.append(store_rate(sealing, plan.append_commands))
    finally:
        sealing.close()
        plain.close()
    sealed, bare = statistics.median(sealed_rates), statistics.median(plain_rates)
    report.add(
        "append_encrypted_commands_per_s",
        round(sealed),
        "append, personal fields sealed",
        f"{sealed:,.0f} /s",
    )
    report.add(
        "append_encrypted_vs_plain",
        round(sealed / bare, 3),
        "append sealed / plain",
        f"{sealed / bare:.3f}",
    )


def bench_rebuild_sealed(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    """The messages rebuild of a log whose personal values are sealed, beside the same
    rebuild of the same log written plain (the keys cached after the first run, as in a
    running projector)."""
    size = plan.rebuild_sizes[0]
    admin = settings.database_url or ""
    containers = {}
    for name in ("plain", "sealed"):
        dsn = fresh_database(admin, f"bench_privacy_{name}")
        container = Container.build(replace(settings, database_url=dsn))
        say(f"privacy: loading {size:,} events, {name}")
        fill_log(dsn, size, personal=container.store.personal if name == "sealed" else None)
        settle(dsn)
        containers[name] = container
    try:
        rates: dict[str, list[float]] = {"plain": [], "sealed": []}
        say(f"privacy: {plan.runs} runs of the messages rebuild, sealed and plain")
        rebuild_rate(containers["sealed"], "messages")  # its keys read once
        for _ in range(plan.runs):
            for name, container in containers.items():
                rates[name].append(rebuild_rate(container, "messages"))
    finally:
        for container in containers.values():
            container.close()
    sealed, plain = statistics.median(rates["sealed"]), statistics.median(rates["plain"])
    report.add(
        "rebuild_encrypted_events_per_s",
        round(sealed),
        f"rebuild messages {size:,}, sealed",
        f"{sealed:,.0f} events/s",
    )
    report.add(
        "rebuild_encrypted_vs_plain",
        round(sealed / plain, 3),
        "rebuild sealed / plain",
        f"{sealed / plain:.3f}",
    )
