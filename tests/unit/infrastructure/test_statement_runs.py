"""The order a projection's batch is written in: a table written by one insert-or-add
alone goes last, in runs, one statement a row; every other statement keeps the events'
order."""

from __future__ import annotations

from infrastructure.projector import in_runs
from projections.base import Among, Plus, Statement


def bucket(name: str, n: int = 1) -> Statement:
    return Statement.insert_or_add("buckets", ("name",), name=name, value=Plus(n))


def fact(key: str) -> Statement:
    return Statement.insert("facts", key=key, done=False)


def done(key: str) -> Statement:
    return Statement.update("facts", {"key": key}, done=True)


def test_counters_go_last_one_statement_a_row_and_the_rest_keep_their_order() -> None:
    batch = [(1, [bucket("a"), fact("x")]), (2, [bucket("b"), done("x")]), (3, [bucket("a", 3)])]
    ordered = in_runs(batch)
    assert ordered == [fact("x"), done("x"), bucket("a", 4), bucket("b")]


def test_a_row_inserted_once_is_inserted_by_its_first_statement() -> None:
    def seen(key: str, by: str) -> Statement:
        return Statement.insert_or_add("seen", ("key",), key=key, by=by)

    batch = [(1, [seen("k", "first")]), (2, [seen("k", "second"), seen("j", "other")])]
    assert in_runs(batch) == [seen("k", "first"), seen("j", "other")]


def test_values_that_do_not_add_up_in_python_stay_apart() -> None:
    batch = [(1, [bucket("a")]), (2, [bucket("a", None)]), (3, [bucket("a", 2)])]  # type: ignore[arg-type]
    assert in_runs(batch) == [bucket("a", 3), bucket("a", None)]  # type: ignore[arg-type]


def test_a_table_written_two_ways_keeps_the_events_order() -> None:
    once = Statement.insert_or_add("buckets", ("name",), name="a", value=0)
    batch = [(1, [bucket("a"), fact("x")]), (2, [once, bucket("a", 2)])]
    assert in_runs(batch) == [bucket("a"), fact("x"), once, bucket("a", 2)]


def test_a_statement_of_unknown_shape_keeps_the_whole_batch_in_order() -> None:
    raw = Statement("UPDATE {schema}.docs SET n = n + 1 WHERE id = %s", (1,))
    batch = [(1, [bucket("a"), raw]), (2, [fact("x"), bucket("b")])]
    assert in_runs(batch) == [bucket("a"), raw, fact("x"), bucket("b")]


def test_a_table_an_update_reads_among_keeps_the_events_order() -> None:
    of_buckets = Among("buckets", "name", {"value": 1})
    mark = Statement.update("facts", {"key": of_buckets}, done=True)
    batch = [(1, [bucket("a"), fact("a")]), (2, [mark, bucket("a", 2)])]
    assert in_runs(batch) == [bucket("a"), fact("a"), mark, bucket("a", 2)]
