"""Statements name their columns; the SQL follows from the names."""

from __future__ import annotations

from projections.base import INSERT, UPDATE, Plus, Shape, Statement


def test_an_insert_names_each_column_of_its_values() -> None:
    statement = Statement.insert("t", a=1, b="x")
    assert statement.sql == "INSERT INTO {schema}.t (a, b) VALUES (%s, %s)"
    assert (statement.params, statement.shape) == ((1, "x"), Shape(INSERT, "t", ("a", "b")))


def test_an_update_sets_adds_and_finds_rows_by_value_or_by_null() -> None:
    statement = Statement.update("t", {"id": 7, "ended_at": None}, n=Plus(1), state="done")
    assert statement.sql == (
        "UPDATE {schema}.t SET n = n + %s, state = %s WHERE id = %s AND ended_at IS NULL"
    )
    assert statement.params == (1, "done", 7)
    assert statement.shape == Shape(UPDATE, "t", ("n", "state"), ("id",), ("ended_at",), ("n",))


def test_an_insert_or_add_sums_its_plus_columns_into_the_row_with_the_same_key() -> None:
    statement = Statement.insert_or_add("t", ("k",), k="a", label="x", n=Plus(2))
    assert statement.sql == (
        "INSERT INTO {schema}.t AS existing (k, label, n) VALUES (%s, %s, %s)"
        " ON CONFLICT (k) DO UPDATE SET n = existing.n + excluded.n"
    )
    assert statement.params == ("a", "x", 2)


def test_the_same_columns_make_the_same_sql_so_the_engine_batches_them() -> None:
    first = Statement.update("t", {"id": 1}, state="a")
    second = Statement.update("t", {"id": 2}, state="b")
    assert first.sql is second.sql
