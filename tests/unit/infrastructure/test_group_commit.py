"""Group commit on an event loop: batching, pipelining and failure rules, with an
in-memory writer (no I/O)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from infrastructure.group_commit import GroupCommit


class Down(Exception):
    """What a writer raises when nothing can be written (its store is unreachable)."""


class Writer:
    """Records each batch; refuses items named ``"refuse"``; raises on ``"poison"``, and
    `Down` on ``"down"``."""

    def __init__(self, pause: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.pause = pause
        self.closed = 0

    async def write(self, items: Sequence[str]) -> list[str | Exception]:
        self.batches.append(list(items))
        await asyncio.sleep(self.pause)
        if "down" in items:
            raise Down("unreachable")
        if "poison" in items:
            raise RuntimeError("poisoned batch")
        return [ValueError(i) if i == "refuse" else f"ok:{i}" for i in items]

    async def aclose(self) -> None:
        self.closed += 1


async def test_a_lone_coroutine_gets_its_outcome_in_a_batch_of_one() -> None:
    writer = Writer()
    group: GroupCommit[str, str] = GroupCommit(writer)
    assert await group.submit("a") == "ok:a"
    assert writer.batches == [["a"]]
    group.close()


async def test_an_idle_writer_writes_half_of_the_waiting_callers_first() -> None:
    writer = Writer(pause=0.005)
    group: GroupCommit[str, str] = GroupCommit(writer)
    items = [f"i{n}" for n in range(64)]
    outcomes = await asyncio.gather(*(group.submit(i) for i in items))
    assert outcomes == [f"ok:{i}" for i in items]
    assert writer.batches == [items[:32], items[32:]]
    assert (group.counts.batches, group.counts.items) == (2, 64)
    group.close()


async def test_callers_that_keep_committing_alternate_between_two_halves() -> None:
    """While one half of the callers is written, the other half decides its next command;
    each write takes everything that queued during the one before."""
    writer = Writer(pause=0.01)
    group: GroupCommit[str, str] = GroupCommit(writer)

    async def caller(name: str) -> list[str]:
        return [await group.submit(f"{name}.{k}") for k in range(5)]

    results = await asyncio.gather(*(caller(f"c{n}") for n in range(8)))
    assert results == [[f"ok:c{n}.{k}" for k in range(5)] for n in range(8)]
    assert [len(batch) for batch in writer.batches] == [4] * 10
    halves = [{item.split(".")[0] for item in batch} for batch in writer.batches]
    assert halves[0::2] == [halves[0]] * 5
    assert halves[1::2] == [halves[1]] * 5
    group.close()


async def test_no_batch_exceeds_the_maximum() -> None:
    writer = Writer(pause=0.002)
    group: GroupCommit[str, str] = GroupCommit(writer, max_batch=5)
    await asyncio.gather(*(group.submit(f"i{n}") for n in range(100)))
    assert max(len(batch) for batch in writer.batches) <= 5
    assert sum(len(batch) for batch in writer.batches) == 100
    group.close()


async def test_a_refused_or_poisoned_coroutine_fails_alone() -> None:
    writer = Writer(pause=0.005)
    group: GroupCommit[str, str] = GroupCommit(writer)
    items = ["refuse", "a", "poison", "b"]
    outcomes = await asyncio.gather(*(group.submit(i) for i in items), return_exceptions=True)
    assert isinstance(outcomes[0], ValueError)
    assert isinstance(outcomes[2], RuntimeError)
    assert outcomes[1::2] == ["ok:a", "ok:b"]
    assert ["poison"] in writer.batches  # the batch that raised was retried one by one
    group.close()


async def test_a_batch_that_fails_together_fails_its_callers_without_retries() -> None:
    """With the store unreachable, retrying each member alone would make every caller wait
    out a connection attempt of its own."""
    writer = Writer(pause=0.005)
    group: GroupCommit[str, str] = GroupCommit(writer, fails_together=(Down,))
    items = ["down", *(f"i{n}" for n in range(7))]
    outcomes = await asyncio.gather(*(group.submit(i) for i in items), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes[:4]] == [Down] * 4
    assert outcomes[4:] == [f"ok:{i}" for i in items[4:]]
    assert writer.batches == [items[:4], items[4:]]
    group.close()


async def test_a_cancelled_coroutine_leaves_the_others_their_outcomes() -> None:
    writer = Writer(pause=0.05)
    group: GroupCommit[str, str] = GroupCommit(writer)
    first = asyncio.ensure_future(group.submit("first"))
    await asyncio.sleep(0.01)  # "first" is being written; these queue for the next batch
    waiting = [asyncio.ensure_future(group.submit(f"i{n}")) for n in range(4)]
    await asyncio.sleep(0)
    waiting[1].cancel()
    assert await first == "ok:first"
    assert [await waiting[n] for n in (0, 2, 3)] == ["ok:i0", "ok:i2", "ok:i3"]
    assert waiting[1].cancelled()
    group.close()


async def test_close_from_another_thread_writes_what_has_queued_then_refuses_more() -> None:
    writer = Writer(pause=0.02)
    group: GroupCommit[str, str] = GroupCommit(writer)
    submitted = [asyncio.ensure_future(group.submit(f"i{n}")) for n in range(8)]
    await asyncio.sleep(0)  # all eight are queued or being written
    closer = threading.Thread(target=group.close)
    closer.start()
    assert await asyncio.gather(*submitted) == [f"ok:i{n}" for n in range(8)]
    await asyncio.to_thread(closer.join, 10)
    assert not closer.is_alive()
    assert writer.closed == 1  # the writer let go of its connection
    with pytest.raises(RuntimeError, match="closed"):
        await group.submit("late")


async def test_a_writer_stopped_mid_write_fails_what_it_left_unwritten() -> None:
    writer = Writer(pause=10)
    group: GroupCommit[str, str] = GroupCommit(writer)
    waiting = [asyncio.ensure_future(group.submit(item)) for item in ("a", "b")]
    await asyncio.sleep(0.01)
    assert writer.batches == [["a"]]  # "a" is being written, "b" waits
    assert group._task is not None
    group._task.cancel()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [RuntimeError, RuntimeError]
    assert writer.closed == 1
    with pytest.raises(RuntimeError, match="closed"):
        await group.submit("late")


def test_a_loop_that_ends_stops_its_writer_and_lets_go_of_its_connection() -> None:
    writer = Writer()

    async def main() -> str:
        group: GroupCommit[str, str] = GroupCommit(writer)
        return await group.submit("a")

    assert asyncio.run(main()) == "ok:a"  # asyncio.run cancels the idle writer task
    assert writer.closed == 1
