"""Privacy scenario: what sealing personal values costs the write path and a rebuild,
each against the same code on the same servers with nothing sealed, runs interleaved.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from api.bench.append import CALLERS, WARM_UP, run_like_the_api, store_rate
from api.bench.rebuild import rebuild_rate
from api.bench.report import Plan, Report, checkpoint, fresh_database
from api.bench.workload import fill_log, settle
from api.bootstrap import Container
from application.commands import CommandRunner
from application.context import CommandContext
from application.ports import Change
from domain.conversation import Conversation
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings

Say = Callable[[str], None]


def bench_privacy_scenario(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    bench_append_sealed(settings, plan, report, say)
    bench_rebuild_sealed(settings, plan, report, say)


def message_rate(store: PostgresEventStore, commands: int, callers: int = CALLERS) -> float:
    """Commands/s of posting messages (by one user, each caller to a conversation of its
    own, loaded from the cache) through the CommandRunner: personal values sealed with
    keys the process holds already."""
    runner = CommandRunner(store)
    context = CommandContext("bench", "bench", "conversations.post")
    counter = iter(range(commands))

    async def caller(conversation_id: uuid.UUID) -> None:
        for i in counter:

            def decide(i: int = i) -> Change:
                conversation = store.get(conversation_id, Conversation)
                text = f"message {i}: the budget, the plan and the review"
                conversation.post_message(uuid.uuid4(), "user", text, "ada", None)
                return Change((conversation,), conversation)

            await runner.run(context, decide)

    async def all_callers() -> float:
        store.portal.attach()
        started = []
        for c in range(callers):
            conversation = Conversation.start("bench", f"chat {c}", ["ada"])
            await runner.run(context, partial(started_change, conversation), decide_blocks=False)
            started.append(conversation.id)
        began = time.perf_counter()
        await asyncio.gather(*(caller(conversation_id) for conversation_id in started))
        return commands / (time.perf_counter() - began)

    return run_like_the_api(all_callers())


def started_change(conversation: Conversation) -> Change:
    return Change((conversation,), conversation)


def bench_append_sealed(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    """Conversation starts (a title sealed, a new subject's key each: the dearest case)
    through the store, beside the same starts through a store that seals nothing, on one
    database; and messages posted to conversations whose keys are held, likewise."""
    dsn = fresh_database(settings.database_url or "", "bench_privacy_append")
    sealing = PostgresEventStore(replace(settings, database_url=dsn))
    plain = PostgresEventStore(replace(settings, database_url=dsn), seal_personal=False)
    try:
        store_rate(sealing, WARM_UP), store_rate(plain, WARM_UP)
        checkpoint(dsn)
        say(
            f"privacy: {plan.append_runs} runs of {plan.append_commands:,} starts, sealed and plain"
        )
        sealed_rates, plain_rates, sealed_posts, plain_posts = [], [], [], []
        for _ in range(plan.append_runs):
            plain_rates.append(store_rate(plain, plan.append_commands))
            sealed_rates.append(store_rate(sealing, plan.append_commands))
            plain_posts.append(message_rate(plain, plan.append_commands // 2))
            sealed_posts.append(message_rate(sealing, plan.append_commands // 2))
    finally:
        sealing.close()
        plain.close()
    posted, posted_plain = statistics.median(sealed_posts), statistics.median(plain_posts)
    report.add(
        "post_encrypted_vs_plain",
        round(posted / posted_plain, 3),
        f"post messages sealed / plain ({posted:,.0f} /s)",
        f"{posted / posted_plain:.3f}",
    )
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
