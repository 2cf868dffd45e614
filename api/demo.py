"""`chronicle demo`: a bounded, realistic workload against a running Chronicle, through the
Python SDK, so a newcomer's console has something to show: people chatting in a few
conversations, an assistant answering with thoughts, tool calls, streamed tokens and usage
(one run in five failing, which fires an alert rule), background tasks with a retry and
a dead letter, and two people co-editing a document. It stops by itself.

Every kind of activity happens once at the start, then at a human pace until the time is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

PEOPLE = ("ada", "ben", "chloe", "dev")
AGENT, MODEL = "concierge", "openai/gpt-4o-mini"
TASK_TYPE, FLAKY_TYPE = "demo.email", "demo.webhook"
ALERT_RULE = "assistant runs failing"
TOPICS = {
    "Order #4411 is late": [
        "My order #4411 was due on Monday and it still hasn't shipped.",
        "Can you tell me where it is?",
        "I need it before the weekend, it's a gift.",
    ],
    "Trip to Lisbon": [
        "What's the weather like in Lisbon next week?",
        "Find me a quiet hotel near Alfama.",
        "And a restaurant for Friday night, somewhere with fado.",
    ],
    "Quarterly report": [
        "Summarise the Q3 numbers for the board.",
        "Which region grew fastest?",
        "Draft three bullet points on churn.",
    ],
}
TOOLS = {
    "Order #4411 is late": ("search_orders", {"order_id": "4411"}, {"status": "in transit"}),
    "Trip to Lisbon": ("lookup_weather", {"city": "Lisbon"}, {"forecast": "sunny, 24°C"}),
    "Quarterly report": ("query_warehouse", {"quarter": "Q3"}, {"rows": 12, "growth": "EMEA"}),
}
ANSWER = (
    "Here is what I found: everything is on track, and I have noted the details in the "
    "conversation so the team can follow up."
)
PLAN = [
    "Launch plan\n",
    "1. Freeze the release branch on Monday.\n",
    "2. Run the load test against staging.\n",
    "3. Announce in the changelog and the newsletter.\n",
]


@dataclass
class Tally:
    """What the demo did, by kind."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str) -> None:
        self.counts[kind] += 1


async def run_demo(
    url: str,
    key: str,
    seconds: float,
    say: Callable[[str], None] = print,
    seed: int | None = None,
) -> Counter[str]:
    """Drive a Chronicle at ``url`` with the API key ``key`` for ``seconds``; what was done."""
    from chronicle_client import AsyncClient  # the SDK: `pip install -e clients/python`

    rng = random.Random(seed)  # noqa: S311 (pacing and wording, not secrets)
    tally = Tally()
    deadline = time.monotonic() + seconds
    async with AsyncClient(url, api_key=key) as chronicle:
        conversations = {}
        for title in TOPICS:
            created = await chronicle.start_conversation(title=title, participants=list(PEOPLE))
            conversations[title] = str(created.id)
            tally.add("conversations")
        rules = [rule async for rule in chronicle.iter_list_alert_rules()]
        if all(rule.name != ALERT_RULE for rule in rules):  # one, however many demos
            await chronicle.create_alert_rule(
                name=ALERT_RULE,
                metric="runs_failed",
                op=">=",
                threshold=1,
                window_s=300,
                severity="warning",
            )
            tally.add("alert rules")
        say(f"demo: {len(conversations)} conversations, an alert rule; running {seconds:.0f}s")
        activities = [
            _chatting(chronicle, conversations, rng, tally, deadline),
            _tasks(chronicle, rng, tally, deadline),
            _working(chronicle, tally, deadline),
            _co_editing(url, key, chronicle, rng, tally, deadline),
        ]
        await asyncio.gather(*activities)
    say("demo: " + ", ".join(f"{n} {kind}" for kind, n in sorted(tally.counts.items())))
    return tally.counts


async def _paced(
    rng: random.Random,
    deadline: float,
    low: float,
    high: float,
    step: Callable[[], Awaitable[None]],
) -> None:
    """``step`` at once, then every ``low`` to ``high`` seconds until the deadline."""
    while True:
        await step()
        pause = rng.uniform(low, high)
        if time.monotonic() + pause >= deadline:
            return
        await asyncio.sleep(pause)


async def _chatting(
    chronicle: Any,
    conversations: dict[str, str],
    rng: random.Random,
    tally: Tally,
    deadline: float,
) -> None:
    turns = 0

    async def turn() -> None:
        nonlocal turns
        title = list(conversations)[turns % len(conversations)]
        line = TOPICS[title][(turns // len(conversations)) % len(TOPICS[title])]
        author = PEOPLE[turns % len(PEOPLE)]
        cid = conversations[title]
        posted = await chronicle.post_message(cid, role="user", content=line, author=author)
        tally.add("messages")
        await _answer(chronicle, title, cid, str(posted.message_id), turns, rng, tally)
        turns += 1

    await _paced(rng, deadline, 2.0, 5.0, turn)


async def _answer(
    chronicle: Any,
    title: str,
    cid: str,
    message_id: str,
    turn: int,
    rng: random.Random,
    tally: Tally,
) -> None:
    """An agent run answering a message: thoughts, a tool call, streamed tokens, usage;
    the second of every five fails (the provider's rate limit)."""
    run = await chronicle.start_run(
        conversation_id=cid, agent=AGENT, model=MODEL, input_message_id=message_id
    )
    run_id = str(run.id)
    await chronicle.record_thought(run_id, text=f"The user asks about: {title.lower()}.")
    tool, arguments, result = TOOLS[title]
    call_id = f"call-{turn}"
    await chronicle.start_tool_call(run_id, call_id=call_id, tool=tool, arguments=arguments)
    took = rng.uniform(0.2, 0.8)
    await asyncio.sleep(took)
    await chronicle.complete_tool_call(run_id, call_id, duration_ms=int(took * 1000), result=result)
    tally.add("tool calls")
    if turn % 5 == 1:  # the second run of each five: the alert fires early
        await chronicle.fail_run(run_id, error="provider rate limit (429), gave up after 3 tries")
        tally.add("runs failed")
        return
    await chronicle.record_thought(run_id, text="I have what I need; answering.")
    for word in ANSWER.split(" "):
        await chronicle.stream_delta(run_id, text=word + " ")
        await asyncio.sleep(rng.uniform(0.01, 0.05))
    from chronicle_client.models import Usage

    tokens_in, tokens_out = rng.randint(300, 900), rng.randint(40, 160)
    cost = round((tokens_in * 0.15 + tokens_out * 0.6) / 1e6, 6)  # USD per million tokens
    usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost)
    await chronicle.complete_run(run_id, usage=usage)
    tally.add("runs completed")


async def _tasks(chronicle: Any, rng: random.Random, tally: Tally, deadline: float) -> None:
    await chronicle.submit_task(
        type=FLAKY_TYPE, payload={"url": "https://hooks.example/down"}, max_attempts=2, backoff_s=0
    )
    tally.add("tasks submitted")
    sent = 0

    async def submit() -> None:
        nonlocal sent
        payload = {"to": f"{PEOPLE[sent % len(PEOPLE)]}@example.com", "flaky": sent % 3 == 1}
        await chronicle.submit_task(type=TASK_TYPE, payload=payload, max_attempts=3, backoff_s=0.5)
        tally.add("tasks submitted")
        sent += 1

    await _paced(rng, deadline, 1.5, 4.0, submit)


async def _working(chronicle: Any, tally: Tally, deadline: float) -> None:
    """A worker sending the e-mails (a flaky one fails its first attempt) and failing every
    delivery to the webhook that is down (so it is dead-lettered)."""
    from chronicle_client.worker import AsyncWorker, Job, TaskFailed

    async def handle(job: Job) -> dict[str, Any]:
        await asyncio.sleep(0.3)
        if job.task.type == FLAKY_TYPE:
            tally.add("task attempts failed")
            raise TaskFailed("connection refused by hooks.example")
        if job.payload.get("flaky") and job.attempt == 1:
            tally.add("task attempts failed")
            raise TaskFailed("SMTP timeout")
        tally.add("tasks succeeded")
        return {"sent": True}

    worker = AsyncWorker(chronicle, [TASK_TYPE, FLAKY_TYPE], handle, wait_s=1.0)
    running = asyncio.ensure_future(worker.run())
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    worker.stop()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(running, timeout=5)


async def _co_editing(
    url: str, key: str, chronicle: Any, rng: random.Random, tally: Tally, deadline: float
) -> None:
    """Two people writing a plan together, each moving their cursor as they type."""
    from chronicle_client.documents import DocumentEditor

    created = await chronicle.create_document(title="Launch plan", content="")
    tally.add("documents")
    editors = [DocumentEditor(url, str(created.id), key=key) for _ in range(2)]
    for editor in editors:
        await editor.connect()
    try:
        lines = iter(PLAN * 10)

        async def type_a_line() -> None:
            editor = editors[tally.counts["document lines"] % 2]
            line = next(lines, None)
            if line is None:
                return
            for start in range(0, len(line), 8):
                await editor.insert(len(editor.content), line[start : start + 8])
                tally.add("document ops")
                await asyncio.sleep(rng.uniform(0.05, 0.2))
            await editor.move(len(editor.content))
            tally.add("document lines")

        await _paced(rng, deadline, 0.5, 1.5, type_a_line)
        for editor in editors:
            await asyncio.wait_for(editor.synced(), timeout=10)
    finally:
        for editor in editors:
            await editor.close()
