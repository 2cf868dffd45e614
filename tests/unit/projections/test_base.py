"""Statements name their columns; the SQL follows from the names."""

from __future__ import annotations

from projections.base import INSERT, UPDATE, Among, Merged, Plus, Shape, Statement, Subquery


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


def test_an_update_merges_json_into_a_column_of_rows_found_among_another_tables() -> None:
    runs = Among("runs", "id", {"conversation_id": 5, "tenant_id": "acme"})
    statement = Statement.update("steps", {"kind": "k", "run_id": runs}, detail=Merged({"a": None}))
    assert statement.sql == (
        "UPDATE {schema}.steps SET detail = detail || %s::jsonb WHERE kind = %s AND run_id IN"
        " (SELECT id FROM {schema}.runs WHERE conversation_id = %s AND tenant_id = %s)"
    )
    assert statement.params == ('{"a": null}', "k", 5, "acme")
    subquery = Subquery("run_id", "runs", "id", ("conversation_id", "tenant_id"))
    assert statement.shape == Shape(
        UPDATE, "steps", ("detail",), ("kind",), merged=("detail",), among=(subquery,)
    )
