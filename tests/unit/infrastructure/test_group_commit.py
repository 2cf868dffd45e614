"""Group commit's batching and failure rules for threads, with an in-memory writer (no I/O)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

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
        self.lock = threading.Lock()

    def __call__(self, items: Sequence[str]) -> list[str | Exception]:
        with self.lock:
            self.batches.append(list(items))
        time.sleep(self.pause)
        if "down" in items:
            raise Down("unreachable")
        if "poison" in items:
            raise RuntimeError("poisoned batch")
        return [ValueError(i) if i == "refuse" else f"ok:{i}" for i in items]


def test_a_lone_caller_gets_its_outcome_in_a_batch_of_one() -> None:
    writer = Writer()
    group = GroupCommit(writer)
    assert group.submit("a") == "ok:a"
    assert writer.batches == [["a"]]


def test_concurrent_callers_share_batches_and_each_gets_its_own_outcome() -> None:
    writer = Writer(pause=0.005)
    group: GroupCommit[str, str] = GroupCommit(writer)
    items = [f"i{n}" for n in range(64)]
    with ThreadPoolExecutor(64) as pool:
        outcomes = list(pool.map(group.submit, items))
    assert outcomes == [f"ok:{i}" for i in items]
    written = [i for batch in writer.batches for i in batch]
    assert sorted(written) == sorted(items)
    assert len(writer.batches) < len(items) / 4


def test_a_refused_member_fails_alone() -> None:
    writer = Writer(pause=0.005)
    group: GroupCommit[str, str] = GroupCommit(writer)

    def submit(item: str) -> str:
        try:
            return group.submit(item)
        except ValueError:
            return "refused"

    items = ["refuse" if n % 8 == 0 else f"i{n}" for n in range(32)]
    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(submit, items))
    assert outcomes == ["refused" if i == "refuse" else f"ok:{i}" for i in items]


def test_a_batch_that_raises_is_retried_one_member_at_a_time() -> None:
    writer = Writer()
    group: GroupCommit[str, str] = GroupCommit(writer)
    outcomes = group._write_all(["a", "poison", "b"])
    assert outcomes[0] == "ok:a"
    assert isinstance(outcomes[1], RuntimeError)
    assert outcomes[2] == "ok:b"
    assert writer.batches == [["a", "poison", "b"], ["a"], ["poison"], ["b"]]


def test_a_batch_that_fails_together_is_not_retried_member_by_member() -> None:
    writer = Writer()
    group: GroupCommit[str, str] = GroupCommit(writer, fails_together=(Down,))
    outcomes = group._write_all(["a", "down", "b"])
    assert [type(outcome) for outcome in outcomes] == [Down, Down, Down]
    assert writer.batches == [["a", "down", "b"]]


def test_the_poisoned_caller_alone_sees_the_error() -> None:
    writer = Writer(pause=0.005)
    group: GroupCommit[str, str] = GroupCommit(writer)
    barrier = threading.Barrier(16)

    def submit(item: str) -> str:
        barrier.wait()
        try:
            return group.submit(item)
        except RuntimeError:
            return "error"

    items = ["poison" if n == 5 else f"i{n}" for n in range(16)]
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(submit, items))
    assert outcomes == ["error" if i == "poison" else f"ok:{i}" for i in items]


def test_no_batch_exceeds_the_maximum() -> None:
    writer = Writer(pause=0.002)
    group: GroupCommit[str, str] = GroupCommit(writer, max_batch=5)
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(group.submit, [f"i{n}" for n in range(100)]))
    assert max(len(batch) for batch in writer.batches) <= 5
    assert sum(len(batch) for batch in writer.batches) == 100


def test_a_writer_interrupted_while_writing_answers_its_batch_and_goes_on() -> None:
    def broken(items: Sequence[str]) -> list[str | Exception]:
        raise KeyboardInterrupt

    group: GroupCommit[str, str] = GroupCommit(broken)
    with pytest.raises(KeyboardInterrupt):
        group.submit("a")
    # The group is usable again: the writer thread answered the batch and lives on.
    group._write = Writer()
    assert group.submit("b") == "ok:b"


def test_close_writes_what_has_queued_then_refuses_more() -> None:
    writer = Writer(pause=0.02)
    group: GroupCommit[str, str] = GroupCommit(writer)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(group.submit, f"i{n}") for n in range(8)]
        while sum(map(len, writer.batches)) + len(group._queue) < 8:
            time.sleep(0.001)  # until every caller is in a batch or queued
        group.close()
        assert [f.result() for f in futures] == [f"ok:i{n}" for n in range(8)]
    with pytest.raises(RuntimeError, match="closed"):
        group.submit("late")
