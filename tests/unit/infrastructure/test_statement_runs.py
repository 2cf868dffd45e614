"""The order a projection's batch is written in: a table written by one insert-or-add
alone goes last, in runs; every other statement keeps the events' order."""

from __future__ import annotations

from infrastructure.projector import in_runs
from projections.base import Plus, Statement


def bucket(name: str, n: int = 1) -> Statement:
    return Statement.insert_or_add("buckets", ("name",), name=name, value=Plus(n))


def fact(key: str) -> Statement:
    return Statement.insert("facts", key=key, done=False)


def done(key: str) -> Statement:
    return Statement.update("facts", {"key": key}, done=True)


def test_counters_go_last_in_one_run_and_the_rest_keep_their_order() -> None:
    batch = [(1, [bucket("a"), fact("x")]), (2, [bucket("b"), done("x")]), (3, [bucket("a")])]
    ordered = in_runs(batch)
    assert ordered == [fact("x"), done("x"), bucket("a"), bucket("b"), bucket("a")]


def test_a_table_written_two_ways_keeps_the_events_order() -> None:
    once = Statement.insert_or_add("buckets", ("name",), name="a", value=0)
    batch = [(1, [bucket("a"), fact("x")]), (2, [once, bucket("a", 2)])]
    assert in_runs(batch) == [bucket("a"), fact("x"), once, bucket("a", 2)]


def test_a_statement_of_unknown_shape_keeps_the_whole_batch_in_order() -> None:
    raw = Statement("UPDATE {schema}.docs SET n = n + 1 WHERE id = %s", (1,))
    batch = [(1, [bucket("a"), raw]), (2, [fact("x"), bucket("b")])]
    assert in_runs(batch) == [bucket("a"), raw, fact("x"), bucket("b")]
