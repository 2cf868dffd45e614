"""The write-path scenarios (append, load, http), each a median of several runs beside
its baselines, on the same servers in the same bench run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from api.bench.append import bare_rate, encoded_rows, raw_rate, store_rate, traced_store_rate
from api.bench.http import WORKERS, http_figures
from api.bench.launch import bench_key
from api.bench.load import cold_loads_ms, long_conversation, replay_ms
from api.bench.otlp_sink import otlp_sink
from api.bench.report import Plan, Report, checkpoint, fresh_database
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings

Say = Callable[[str], None]


def bare_database(settings: Settings) -> Settings:
    """Settings on a fresh database for the bare library's runs."""
    return replace(settings, database_url=fresh_database(settings.database_url or "", "bench_bare"))


def bench_append_scenario(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    """Chronicle's runs (untraced, and traced always-on exporting to a local OTLP sink),
    the raw batch's and the bare library's take turns, so a slow minute of the machine
    falls on all of them."""
    dsn = fresh_database(settings.database_url or "", "bench_append")
    bare_settings = bare_database(settings)
    store = PostgresEventStore(replace(settings, database_url=dsn))
    with otlp_sink() as otel:
        traced = append_runs(store, dsn, bare_settings, plan, report, say, otel)
    report.add(
        "append_traced_commands_per_s",
        round(traced),
        "append, traced always-on (OTLP)",
        f"{traced:,.0f} /s",
    )
    untraced = report.figures["append_commands_per_s"]
    report.add(
        "append_traced_vs_untraced",
        round(traced / untraced, 3),
        "append traced / untraced",
        f"{traced / untraced:.3f}",
    )


def append_runs(
    store: PostgresEventStore,
    dsn: str,
    bare_settings: Settings,
    plan: Plan,
    report: Report,
    say: Say,
    otel: dict[str, str],
) -> float:
    """The append runs and their baselines, reported; the traced runs' median rate."""
    try:
        rows = encoded_rows(store, plan.raw_rows)
        checkpoint(dsn)
        say(
            f"append: {plan.append_runs} runs of {plan.append_commands:,} commands (64 callers),"
            f" each beside a run of raw INSERTs of {plan.raw_rows:,} rows and one of"
            f" {plan.bare_commands:,} bare library saves (64 threads)"
        )
        rates, traced, raws, bares, cpus, raw_cpus = [], [], [], [], [], []
        for _ in range(plan.append_runs):
            began = time.process_time()
            rates.append(store_rate(store, plan.append_commands))
            cpus.append((time.process_time() - began) / plan.append_commands * 1e6)
            traced.append(traced_store_rate(store, plan.append_commands, otel))
            began = time.process_time()
            raws.append(raw_rate(dsn, rows))
            raw_cpus.append((time.process_time() - began) / len(rows) * 1e6)
            bares.append(bare_rate(bare_settings, plan.bare_commands))
        rate, raw, bare = (statistics.median(r) for r in (rates, raws, bares))
        cpu, raw_cpu = statistics.median(cpus), statistics.median(raw_cpus)
        batch = store.counts.items / max(1, store.counts.batches)
    finally:
        store.close()
    report.add(
        "append_commands_per_s", round(rate), "append, 64 callers (group commit)", f"{rate:,.0f} /s"
    )
    report.add("append_mean_batch", round(batch, 1), "commands per transaction", f"{batch:.1f}")
    report.add(
        "append_client_cpu_us",
        round(cpu, 1),
        "append: this process's CPU per command",
        f"{cpu:.0f} µs",
    )
    report.add(
        "raw_batch_rows_per_s", round(raw), "raw INSERT, 500 rows a transaction", f"{raw:,.0f} /s"
    )
    report.add(
        "raw_batch_client_cpu_us",
        round(raw_cpu, 1),
        "raw INSERT: this process's CPU per row",
        f"{raw_cpu:.0f} µs",
    )
    report.add(
        "bare_lib_commands_per_s",
        round(bare),
        "bare eventsourcing save(), 64 callers",
        f"{bare:,.0f} /s",
    )
    report.add(
        "append_vs_bare_lib", round(rate / bare, 2), "append / bare library", f"{rate / bare:.2f}"
    )
    report.add(
        "append_vs_raw_batch", round(rate / raw, 3), "append / raw batch", f"{rate / raw:.3f}"
    )
    return statistics.median(traced)


def bench_load_scenario(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    dsn = fresh_database(settings.database_url or "", "bench_load")
    store = PostgresEventStore(replace(settings, database_url=dsn))
    try:
        say("load: a conversation of 10,000 events and one of 100")
        large, small = long_conversation(store, 10_000), long_conversation(store, 100)
        say(f"load: {plan.load_repeats} cold loads of each, and replays without snapshots")
        large_ms, small_ms = cold_loads_ms(store, [large, small], plan.load_repeats)
        replay = replay_ms(store, large, max(3, plan.load_repeats // 5))
    finally:
        store.close()
    report.add("load_10k_ms", round(large_ms, 3), "cold load, 10,000 events", f"{large_ms:.2f} ms")
    report.add("load_100_ms", round(small_ms, 3), "cold load, 100 events", f"{small_ms:.2f} ms")
    report.add(
        "replay_10k_ms", round(replay, 3), "replay 10,000 events, no snapshot", f"{replay:.1f} ms"
    )
    ratio = large_ms / small_ms
    report.add("load_10k_over_100", round(ratio, 3), "load 10,000 / load 100", f"{ratio:.2f}")


def bench_http_scenario(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    """Each HTTP run is followed by one traced always-on (exporting to a local OTLP sink)
    and a run of the bare library, its baselines."""
    bare_settings = bare_database(settings)
    dsn = fresh_database(settings.database_url or "", "bench_http")
    checkpoint(dsn)
    http_settings = replace(settings, database_url=dsn)
    token = bench_key(http_settings)
    runs, traced_runs, bares = [], [], []
    with otlp_sink() as otel:
        for run in range(plan.http_runs):
            say(
                f"http: run {run + 1}: 64 connections posting for {plan.http_seconds:.0f}s"
                f" to {WORKERS} API processes, untraced and traced,"
                f" then {plan.bare_commands:,} bare library saves"
            )
            runs.append(http_figures(http_settings, token, plan.http_seconds))
            traced_runs.append(
                http_figures(http_settings, token, plan.http_seconds, environment=otel)
            )
            bares.append(bare_rate(bare_settings, plan.bare_commands))
    rate = statistics.median(r["commands_per_s"] for r in runs)
    traced = statistics.median(r["commands_per_s"] for r in traced_runs)
    bare = statistics.median(bares)
    p50 = statistics.median(r["p50_ms"] for r in runs)
    p99 = statistics.median(r["p99_ms"] for r in runs)
    errors = sum(int(r["errors"]) for r in runs)
    report.add(
        "http_commands_per_s",
        round(rate),
        f"HTTP POST, 64 connections, {WORKERS} API processes",
        f"{rate:,.0f} /s",
    )
    report.add("http_api_processes", WORKERS, "API processes (one per core)", str(WORKERS))
    report.add("http_p50_ms", round(p50, 2), "HTTP command p50", f"{p50:.1f} ms")
    report.add("http_p99_ms", round(p99, 2), "HTTP command p99", f"{p99:.1f} ms")
    report.add("http_errors", errors, "HTTP answers other than 201", str(errors))
    report.add(
        "http_bare_lib_commands_per_s",
        round(bare),
        "bare library, beside the HTTP runs",
        f"{bare:,.0f} /s",
    )
    report.add(
        "http_vs_bare_lib", round(rate / bare, 2), "HTTP / bare library", f"{rate / bare:.2f}"
    )
    report.add(
        "http_traced_commands_per_s",
        round(traced),
        "HTTP POST, traced always-on (OTLP)",
        f"{traced:,.0f} /s",
    )
    report.add(
        "http_traced_vs_untraced",
        round(traced / rate, 3),
        "HTTP traced / untraced",
        f"{traced / rate:.3f}",
    )
