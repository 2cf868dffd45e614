"""Runs the benchmark scenarios on fresh embedded servers and reports ratios."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from api.bench.documents import bench_documents_scenario
from api.bench.fanout import bench_live, summary
from api.bench.launch import bench_key
from api.bench.metrics_history import bench_metrics_scenario
from api.bench.privacy import bench_privacy_scenario
from api.bench.rebuild import raw_read_rate, rebuild_peak_rss, rebuild_rate
from api.bench.report import MASTER_KEY, Plan, Report, fresh_database
from api.bench.tasks import (
    chronicle_processes,
    chronicle_queue_latency,
    chronicle_round_trips,
    raw_round_trips,
)
from api.bench.webhooks import bench_webhooks_scenario
from api.bench.workload import fill_log, settle
from api.bench.writes import bench_append_scenario, bench_http_scenario, bench_load_scenario
from api.bootstrap import Container
from infrastructure.embedded import EmbeddedServers
from infrastructure.settings import Settings


def bench_rebuild_once(
    dsn: str, container: Container, size: int, report: Report, say: Callable[[str], None]
) -> None:
    """One raw read and one rebuild of ``messages`` at a larger size (one run: a rebuild
    of a million events takes half a minute)."""
    say(f"rebuild: a raw read and a rebuild at {size:,}")
    raw, rate = raw_read_rate(dsn), rebuild_rate(container, "messages")
    report.add(
        f"raw_read_events_per_s_{size}", round(raw), f"raw read {size:,}", f"{raw:,.0f} events/s"
    )
    report.add(
        f"rebuild_events_per_s_{size}",
        round(rate),
        f"rebuild messages {size:,}",
        f"{rate:,.0f} events/s",
    )
    report.add(
        f"rebuild_vs_raw_read_{size}",
        round(rate / raw, 3),
        f"rebuild / raw read, {size:,}",
        f"{rate / raw:.3f}",
    )


def bench_rebuild(admin_dsn: str, plan: Plan, report: Report, say: Callable[[str], None]) -> None:
    small, large = plan.rebuild_sizes
    rss: dict[int, int] = {}
    for size in (small, large):
        dsn = fresh_database(admin_dsn, f"bench_rebuild_{size}")
        container = Container.build(Settings(database_url=dsn, master_key=MASTER_KEY))
        try:
            say(f"rebuild: loading {size:,} events")
            fill_log(dsn, size)
            settle(dsn)
            if size == small:
                say(f"rebuild: {plan.runs} runs of raw read and rebuild at {size:,}")
                raws, binaries, rates, searches = [], [], [], []
                for _ in range(plan.runs):  # interleaved, so the machine's drift hits all four
                    raws.append(raw_read_rate(dsn))
                    binaries.append(raw_read_rate(dsn, binary=True))
                    rates.append(rebuild_rate(container, "messages"))
                    searches.append(rebuild_rate(container, "message_search"))
                raw, binary = statistics.median(raws), statistics.median(binaries)
                rate, search = statistics.median(rates), statistics.median(searches)
                report.add(
                    "raw_read_events_per_s",
                    round(raw),
                    f"raw read {size:,} events",
                    f"{raw:,.0f} events/s",
                )
                report.add(
                    "raw_binary_read_events_per_s",
                    round(binary),
                    f"raw read {size:,} events, binary tuples",
                    f"{binary:,.0f} events/s",
                )
                report.add(
                    "rebuild_events_per_s",
                    round(rate),
                    f"rebuild messages {size:,}",
                    f"{rate:,.0f} events/s",
                )
                report.add(
                    "rebuild_vs_raw_read",
                    round(rate / raw, 3),
                    "rebuild / raw read",
                    f"{rate / raw:.3f}",
                )
                report.add(
                    "rebuild_vs_raw_binary_read",
                    round(rate / binary, 3),
                    "rebuild / raw binary read",
                    f"{rate / binary:.3f}",
                )
                # Full-text search rebuilds on its own, with the tsvector the server
                # computes for each message (messages no longer does).
                report.add(
                    "search_rebuild_events_per_s",
                    round(search),
                    f"rebuild message_search {size:,}",
                    f"{search:,.0f} events/s",
                )
                report.add(
                    "search_rebuild_vs_raw_read",
                    round(search / raw, 3),
                    "search rebuild / raw read",
                    f"{search / raw:.3f}",
                )
            else:
                bench_rebuild_once(dsn, container, size, report, say)
            say(f"rebuild: peak memory at {size:,}")
            rss[size] = rebuild_peak_rss(dsn, "messages")
            report.add(
                f"rebuild_rss_bytes_{size}",
                rss[size],
                f"rebuild peak RSS {size:,}",
                f"{rss[size] / 2**20:,.1f} MiB",
            )
        finally:
            container.close()
    ratio = rss[large] / rss[small]
    report.add(
        "rebuild_rss_1m_over_100k", round(ratio, 3), f"RSS {large:,} / {small:,}", f"{ratio:.3f}"
    )


def bench_live_scenario(
    settings: Settings, plan: Plan, report: Report, say: Callable[[str], None]
) -> None:
    dsn = fresh_database(settings.database_url or "", "bench_live")
    live_settings = replace(settings, database_url=dsn)
    token = bench_key(live_settings)
    runs = [
        asyncio.run(
            bench_live(
                live_settings, token, plan.live_connections, plan.live_rate, plan.live_seconds, say
            )
        )
        for _ in range(plan.runs)
    ]
    # Percentiles of every run's samples together: a p99 of one run is its tenth-worst
    # sample of a thousand, and moved by a factor of five from run to run.
    live_samples = summary([ms for r in runs for ms in r.live_ms])
    nats_samples = summary([ms for r in runs for ms in r.nats_ms])
    live, live_p50 = live_samples["p99"], live_samples["p50"]
    raw, raw_p50 = nats_samples["p99"], nats_samples["p50"]
    per_connection = statistics.median(r.bytes_per_connection for r in runs)
    n = plan.live_connections
    report.add("live_p50_ms", live_p50, f"command → SSE p50 ({n:,} open)", f"{live_p50:.2f} ms")
    report.add("live_p99_ms", live, f"command → SSE p99 ({n:,} open)", f"{live:.2f} ms")
    report.add("nats_p50_ms", raw_p50, "raw NATS pub → sub p50", f"{raw_p50:.3f} ms")
    report.add("nats_p99_ms", raw, "raw NATS pub → sub p99", f"{raw:.3f} ms")
    report.add(
        "live_p99_vs_nats_p99", round(live / raw, 2), "live p99 / NATS p99", f"{live / raw:.1f}"
    )
    report.add(
        "bytes_per_connection",
        round(per_connection),
        "API memory per idle connection",
        f"{per_connection / 1024:,.1f} KiB",
    )
    key_p99 = summary([ms for r in runs for ms in r.key_ms])["p99"]
    token_p99 = summary([ms for r in runs for ms in r.token_ms])["p99"]
    per_token = statistics.median(r.bytes_per_token_connection for r in runs)
    report.add("live_key_p99_ms", key_p99, "same events → key listener p99", f"{key_p99:.2f} ms")
    report.add(
        "live_token_p99_ms",
        token_p99,
        "same events → user-token listener p99",
        f"{token_p99:.2f} ms",
    )
    report.add(
        "live_token_p99_vs_key_p99",
        round(token_p99 / key_p99, 2),
        "user token p99 / key p99",
        f"{token_p99 / key_p99:.2f}",
    )
    report.add(
        "bytes_per_token_connection",
        round(per_token),
        "API memory per idle user-token connection",
        f"{per_token / 1024:,.1f} KiB",
    )


def bench_tasks_scenario(
    settings: Settings, plan: Plan, report: Report, say: Callable[[str], None]
) -> None:
    dsn = fresh_database(settings.database_url or "", "bench_tasks")
    tasks_settings = replace(settings, database_url=dsn)
    token = bench_key(tasks_settings)
    rates, raws, latencies = [], [], []
    with chronicle_processes(tasks_settings) as url:
        for run in range(plan.runs):
            say(f"tasks: run {run + 1}: {plan.tasks:,} claim → complete round trips, 8 workers")
            rates.append(asyncio.run(chronicle_round_trips(url, token, plan.tasks)))
            raws.append(raw_round_trips(dsn, plan.tasks))
        say("tasks: queue latency at 20 submits/s")
        latencies = asyncio.run(chronicle_queue_latency(url, token, 20, plan.live_seconds))
    rate, raw = statistics.median(rates), statistics.median(raws)
    lat = summary(latencies)
    report.add(
        "tasks_round_trips_per_s",
        round(rate, 1),
        "claim → complete /s (8 workers, HTTP)",
        f"{rate:,.0f}",
    )
    report.add(
        "raw_queue_round_trips_per_s",
        round(raw, 1),
        "raw SKIP LOCKED claim → complete /s",
        f"{raw:,.0f}",
    )
    report.add("tasks_vs_raw_queue", round(rate / raw, 3), "tasks / raw queue", f"{rate / raw:.3f}")
    report.add("queue_latency_p50_ms", lat["p50"], "submit → claimed p50", f"{lat['p50']:.1f} ms")
    report.add("queue_latency_p99_ms", lat["p99"], "submit → claimed p99", f"{lat['p99']:.1f} ms")


def run_bench(quick: bool, console: Console, scenarios: set[str] | None = None) -> dict[str, Any]:
    plan = Plan.for_mode(quick)
    report = Report()
    began = time.monotonic()

    def say(message: str) -> None:
        console.log(message)

    with (
        tempfile.TemporaryDirectory(prefix="chronicle-bench-") as tmp,
        EmbeddedServers(Path(tmp)).running() as servers,
    ):
        postgres = servers.postgres()
        if scenarios is None or "rebuild" in scenarios:
            bench_rebuild(postgres.url, plan, report, say)
        settings = Settings(master_key=MASTER_KEY).with_urls(
            postgres.url, servers.nats().url, servers.valkey().url
        )
        if scenarios is None or "live" in scenarios:
            bench_live_scenario(settings, plan, report, say)
        if scenarios is None or "tasks" in scenarios:
            bench_tasks_scenario(settings, plan, report, say)
        if scenarios is None or "append" in scenarios:
            bench_append_scenario(settings, plan, report, say)
        if scenarios is None or "privacy" in scenarios:
            bench_privacy_scenario(settings, plan, report, say)
        if scenarios is None or "load" in scenarios:
            bench_load_scenario(settings, plan, report, say)
        if scenarios is None or "http" in scenarios:
            bench_http_scenario(settings, plan, report, say)
        if scenarios is None or "documents" in scenarios:
            bench_documents_scenario(settings, plan, report, say)
        if scenarios is None or "metrics" in scenarios:
            bench_metrics_scenario(settings, plan, report, say)
        if scenarios is None or "webhooks" in scenarios:
            bench_webhooks_scenario(settings, plan, report, say)
    report.figures["seconds"] = round(time.monotonic() - began, 1)
    report.figures["quick"] = quick
    table = Table("figure", "value", "key", title="Chronicle bench")
    for row in report.rows:
        table.add_row(*row)
    console.print(table)
    return report.figures
