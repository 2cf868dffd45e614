"""The `documents` scenario, co-editing: 50 editors on one document over its socket, each
making 5 small edits a second (250 offered); how long an op takes from its editor to each
other editor, how many ops the document takes a second, and that every editor ends on
the server's text. Then the same editors unpaced (each makes its next edit once its last
is acknowledged: one op in flight each); and, beside them, as many ops as the paced run
offered appended plainly.

Edits an editor makes while its op is in flight are sent as one op once it is
acknowledged (as ShareDB's clients do), so a server that falls behind applies fewer, larger
ops than the edits offered. The ratio is of the unpaced run's ops/s (what the socket takes
at most) to the plain appends': `OperationApplied` events made at the head the caller
loaded (nothing to read since, nothing to transform, no idempotency receipt) through the
`CommandRunner` and the store, by as many callers in this process, no socket.

Every editor is a `DocumentEditor` in this process, so the latencies share one clock; the
API runs in its own process with a relay, as users run it. The CPU the API process and the
editors' process spend per op applied in the paced run is reported beside the latencies:
on a machine shared with other work the latencies measure the queue for its cores, while
CPU per op moves little with it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import httpx
import psutil

from api.bench.append import run_like_the_api
from api.bench.fanout import paced, summary
from api.bench.launch import bench_key, running
from api.bench.report import Plan, Report, fresh_database
from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import ConcurrencyConflict
from application.ports import Change
from chronicle_client.documents import DocumentEditor, Pending
from domain.document import Document
from domain.text_ot import Op
from infrastructure.embedded import free_port
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings

EDITORS = 50
EDITS_PER_S = 5.0  # each editor's
DELETE_SHARE = 0.3
START = "Chronicle keeps every edit of this document in its log. " * 4
SETTLE_SECONDS = 30.0  # for every editor to be acknowledged and at the head, at the end
# The socket's inbound frame cap (20/s) would close an editor of the unpaced run, which
# sends as fast as its acks come: a benchmark measures the machine, not the limit.
UNCAPPED = {"CHRONICLE_LIVE_FRAMES_PER_SECOND": "0"}

Say = Callable[[str], None]


class TimedEditor(DocumentEditor):
    """A `DocumentEditor` that notes when it sends each op (by its ``seq``), which
    revision each of its ops became (from the acks), and when each other editor's op
    arrived."""

    def __init__(self, base_url: str, document_id: str, key: str) -> None:
        super().__init__(base_url, document_id, key=key)
        self.sent: dict[int, float] = {}  # seq -> when first sent
        self.acked: dict[int, int] = {}  # revision -> seq
        self.arrived: list[tuple[int, float]] = []  # (revision, when) of the others' ops
        self.messages = 0  # messages received after the welcome
        self.frames = 0  # frames they held

    async def _send_op(self, pending: Pending) -> None:
        self.sent.setdefault(pending.seq, time.perf_counter())
        await super()._send_op(pending)

    async def _message(self, frames: list[dict[str, Any]]) -> None:
        self.messages += 1
        self.frames += len(frames)
        await super()._message(frames)

    async def _take(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "op":
            self.arrived.append((frame["revision"], time.perf_counter()))
        elif kind == "ack":
            self.acked[frame["revision"]] = frame["seq"]
        await super()._take(frame)

    async def random_edit(self, rng: random.Random) -> None:
        """A small insert (or, now and then, a delete of a few characters) anywhere."""
        length = len(self.content)
        if length and rng.random() < DELETE_SHARE:
            at = rng.randrange(length)
            await self.delete(at, min(rng.randint(1, 3), length - at))
        else:
            await self.insert(rng.randint(0, length), rng.choice(("a", "ab", "abc", "é ", "😭")))


@dataclass(frozen=True)
class EditingRun:
    """One run of the editors: ops applied (revisions made) and over how long, each
    op's latency to each other editor, and whether all ended on the server's text."""

    ops: int
    seconds: float
    latencies_ms: list[float]
    converged: bool
    detail: str
    api_cpu_s: float = 0.0  # CPU of the API process (when told which) over the run
    editors_cpu_s: float = 0.0  # CPU of this process, the editors', over the run
    frames_per_message: float = 1.0  # frames the editors were sent in one message, mean

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds

    def cpu_ms_per_op(self, cpu_s: float) -> float:
        return cpu_s * 1000 / max(self.ops, 1)


def latencies(editors: list[TimedEditor]) -> list[float]:
    """Ms from each op's sending to its arrival at each other editor."""
    sent_at = {
        revision: editor.sent[seq] for editor in editors for revision, seq in editor.acked.items()
    }
    return [
        (when - sent_at[revision]) * 1000
        for editor in editors
        for revision, when in editor.arrived
        if revision in sent_at
    ]


async def converge(
    http: httpx.AsyncClient, document: str, editors: list[TimedEditor]
) -> tuple[bool, str]:
    """Whether every editor, once acknowledged and at the server's revision, has its text;
    and what was found."""
    try:
        async with asyncio.timeout(SETTLE_SECONDS):
            await asyncio.gather(*(editor.synced() for editor in editors))
            head = (await http.get(f"/v1/documents/{document}")).json()
            await asyncio.gather(
                *(e.until(lambda e=e: e.revision >= head["revision"]) for e in editors)
            )
    except TimeoutError:
        pending = sum(e.inflight is not None or e.buffer is not None for e in editors)
        revisions = sorted(e.revision for e in editors)
        return False, (
            f"not settled in {SETTLE_SECONDS:.0f}s: {pending} editors with edits not"
            f" acknowledged, editors at revisions {revisions[0]} to {revisions[-1]}"
        )
    wrong = [
        (e.client_id, e.revision, len(e.content))
        for e in editors
        if (e.revision, e.content) != (head["revision"], head["content"])
    ]
    found = f"server at revision {head['revision']} ({len(head['content'])} chars)"
    if wrong:
        return False, f"{found}, {len(wrong)} editors not on its text: {wrong[:3]}"
    return True, f"{found}, every editor on its text"


def cpu_seconds(process: psutil.Process | None) -> float:
    """CPU time used so far by ``process`` (this one when ``None``), user and system."""
    times = (process or psutil.Process()).cpu_times()
    return float(times.user + times.system)


async def co_edit(
    url: str,
    key: str,
    seconds: float,
    *,
    steady: bool,
    editors: int = EDITORS,
    api_pid: int | None = None,
) -> EditingRun:
    """``editors`` editors on a new document for ``seconds``: each making `EDITS_PER_S`
    edits a second (``steady``; their starts spread over one interval), or each making
    its next edit as soon as the last is acknowledged (one op in flight each). The CPU of
    the API process ``api_pid`` and of this one is measured over the run."""
    api = psutil.Process(api_pid) if api_pid is not None else None
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        created = await http.post("/v1/documents", json={"title": "Bench", "content": START})
        created.raise_for_status()
        document = created.json()["id"]
        team = [TimedEditor(url, document, key) for _ in range(editors)]
        for editor in team:
            await editor.connect()
        await asyncio.sleep(0.5)  # every editor has joined before the first edit

        async def steadily(i: int, editor: TimedEditor) -> None:
            rng = random.Random(i)  # noqa: S311 - edits, not secrets
            await asyncio.sleep(i / editors / EDITS_PER_S)
            await paced(EDITS_PER_S, seconds, lambda _: editor.random_edit(rng))

        async def eagerly(i: int, editor: TimedEditor, until: float) -> None:
            rng = random.Random(i)  # noqa: S311 - edits, not secrets
            while time.perf_counter() < until:
                await editor.random_edit(rng)
                await editor.synced()

        began = time.perf_counter()
        cpu_began = (cpu_seconds(api) if api else 0.0), cpu_seconds(None)
        await asyncio.gather(
            *(
                steadily(i, e) if steady else eagerly(i, e, began + seconds)
                for i, e in enumerate(team)
            )
        )
        converged, detail = await converge(http, document, team)
        finished = time.perf_counter()  # every op acknowledged (when it converged)
        api_cpu = (cpu_seconds(api) if api else 0.0) - cpu_began[0]
        editors_cpu = cpu_seconds(None) - cpu_began[1]
        ops = max(e.revision for e in team)
        await asyncio.gather(*(editor.close() for editor in team))
    batched = sum(e.frames for e in team) / max(sum(e.messages for e in team), 1)
    return EditingRun(
        ops, finished - began, latencies(team), converged, detail, api_cpu, editors_cpu, batched
    )


def plain_append_rate(store: PostgresEventStore, ops: int, callers: int = EDITORS) -> float:
    """Ops/s of ``callers`` coroutines appending ``ops`` small edits to one document
    through the `CommandRunner` and the store, each made on the head it loaded: no ops
    since to read, nothing to transform (a conflict with another caller's retries, as
    an editor's does; past the runner's retries, on a busy machine, it is made again)."""
    runner = CommandRunner(store)
    context = CommandContext("bench", "bench", "document.submit_op")
    counter = iter(range(ops))

    async def caller(document_id: UUID, number: int) -> None:
        rng = random.Random(number)  # noqa: S311 - edits, not secrets
        for seq in counter:

            def decide(seq: int = seq) -> Change:
                document = store.get(document_id, Document)
                at = rng.randint(0, len(document.content))
                op: Op = [at, "ab"] if at else ["ab"]
                document.submit(op, document.revision, "bench", [], f"c{number}", seq)
                return Change((document,), document)

            while True:
                try:
                    await runner.run(context, decide, retry_on_conflict=True)
                    break
                except ConcurrencyConflict:
                    continue

    async def all_callers() -> float:
        store.portal.attach()  # this loop writes, as the API's does

        def create() -> Change:
            document = Document.create("bench", "Plain", START)
            return Change((document,), document)

        created = await runner.run(context, create, decide_blocks=False)
        began = time.perf_counter()
        await asyncio.gather(*(caller(created.id, n) for n in range(callers)))
        return ops / (time.perf_counter() - began)

    return run_like_the_api(all_callers())


def bench_documents_scenario(settings: Settings, plan: Plan, report: Report, say: Say) -> None:
    """One paced run, one unpaced run and the plain appends (a run each: the paced run
    alone has a sample per op and other editor, some hundred thousand)."""
    dsn = fresh_database(settings.database_url or "", "bench_documents")
    documents_settings = replace(settings, database_url=dsn)
    key = bench_key(documents_settings)
    port = free_port()
    offered = EDITORS * EDITS_PER_S
    with running(documents_settings, port, ["relay"], environment=UNCAPPED) as api:
        url = f"http://127.0.0.1:{port}"
        say(
            f"documents: {EDITORS} editors on one document over its socket,"
            f" {EDITS_PER_S:.0f} edits/s each for {plan.documents_seconds:.0f}s"
        )
        paced_run = asyncio.run(
            co_edit(url, key, plan.documents_seconds, steady=True, api_pid=api.pid)
        )
        say(f"documents: {paced_run.detail}")
        say(
            f"documents: {EDITORS} editors unpaced (the next edit once the last is"
            f" acknowledged) for {plan.documents_unpaced_seconds:.0f}s"
        )
        unpaced = asyncio.run(co_edit(url, key, plan.documents_unpaced_seconds, steady=False))
        say(f"documents: {unpaced.detail}")
    volume = round(offered * plan.documents_seconds)
    say(f"documents: {volume:,} plain appends to one document, {EDITORS} callers")
    store = PostgresEventStore(documents_settings)
    try:
        plain = plain_append_rate(store, volume)
    finally:
        store.close()
    lat = summary(paced_run.latencies_ms)
    report.add(
        "documents_op_to_editors_p50_ms",
        lat["p50"],
        f"doc op → each other editor p50 ({EDITORS}, {offered:.0f} edits/s)",
        f"{lat['p50']:.1f} ms",
    )
    report.add(
        "documents_op_to_editors_p99_ms",
        lat["p99"],
        "doc op → each other editor p99 (target < 50 ms)",
        f"{lat['p99']:.1f} ms",
    )
    report.add(
        "documents_ops_per_s",
        round(paced_run.ops_per_s, 1),
        f"doc ops applied /s, paced ({offered:.0f} edits/s offered)",
        f"{paced_run.ops_per_s:,.0f} /s",
    )
    report.add(
        "documents_api_cpu_ms_per_op",
        round(paced_run.cpu_ms_per_op(paced_run.api_cpu_s), 2),
        f"CPU of the API process per doc op applied, paced ({EDITORS - 1} editors sent each)",
        f"{paced_run.cpu_ms_per_op(paced_run.api_cpu_s):.2f} ms",
    )
    report.add(
        "documents_editors_cpu_ms_per_op",
        round(paced_run.cpu_ms_per_op(paced_run.editors_cpu_s), 2),
        "CPU of the bench's editors per doc op applied, paced (all 50, one process)",
        f"{paced_run.cpu_ms_per_op(paced_run.editors_cpu_s):.2f} ms",
    )
    report.add(
        "documents_frames_per_message",
        round(paced_run.frames_per_message, 2),
        "frames an editor was sent in one message, mean, paced (?batch=1)",
        f"{paced_run.frames_per_message:.2f}",
    )
    report.add(
        "documents_unpaced_ops_per_s",
        round(unpaced.ops_per_s, 1),
        f"doc ops applied /s, unpaced ({EDITORS} editors, 1 op in flight each)",
        f"{unpaced.ops_per_s:,.0f} /s",
    )
    report.add(
        "documents_plain_append_ops_per_s",
        round(plain, 1),
        f"plain appends to one document /s ({EDITORS} callers, no socket)",
        f"{plain:,.0f} /s",
    )
    report.add(
        "documents_ops_vs_plain_append",
        round(unpaced.ops_per_s / plain, 3),
        "doc ops unpaced / plain appends",
        f"{unpaced.ops_per_s / plain:.3f}",
    )
    converged = paced_run.converged and unpaced.converged
    report.add(
        "documents_converged",
        int(converged),
        "every editor on the server's text, both runs",
        "yes" if converged else "NO",
    )
    if not converged:
        raise RuntimeError(
            f"documents: the editors did not converge: paced: {paced_run.detail};"
            f" unpaced: {unpaced.detail}"
        )
