"""Text operational transformation as ShareDB's text-unicode does it, without any I/O.

Positions count code points: the generated texts (`strategies`) hold emoji and combining
marks, and the examples follow text-unicode's own tests.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import text_ot as ot
from domain.errors import InvalidValue
from domain.text_ot import Op
from tests.unit.domain.strategies import TEXTS, ops_for

FAST = settings(max_examples=120, deadline=None)  # the file in a few seconds
THOROUGH = settings(max_examples=400, deadline=None)


@st.composite
def concurrent(draw: st.DrawFn) -> tuple[str, Op, Op]:
    """A document and two ops made on it independently."""
    text = draw(TEXTS)
    return text, draw(ops_for(text)), draw(ops_for(text))


@st.composite
def sequential(draw: st.DrawFn) -> tuple[str, Op, Op]:
    """A document, an op on it, and an op on what the first made."""
    text = draw(TEXTS)
    first = draw(ops_for(text))
    return text, first, draw(ops_for(ot.apply(text, first)))


@st.composite
def with_op(draw: st.DrawFn) -> tuple[str, Op]:
    text = draw(TEXTS)
    return text, draw(ops_for(text))


def edits(op: Op) -> tuple[set[int], set[int]]:
    """The positions of the original text ``op`` deletes, and those it inserts before."""
    deleted: set[int] = set()
    inserted_at: set[int] = set()
    position = 0
    for component in ot.normalize(op):
        if isinstance(component, int):
            position += component
        elif isinstance(component, str):
            inserted_at.add(position)
        else:
            deleted.update(range(position, position + component["d"]))
            position += component["d"]
    return deleted, inserted_at


# Applying


def test_an_op_walks_the_text_retaining_inserting_and_deleting_code_points() -> None:
    assert ot.apply("hi there", [3, {"d": 5}, "🤖👻💃"]) == "hi 🤖👻💃"
    assert ot.apply("😭e\u0301x", [2, {"d": 1}, "y"]) == "😭e" + "yx"


def test_text_after_the_last_component_is_kept() -> None:
    assert ot.apply("abc", ["x"]) == "xabc"
    assert ot.apply("abc", []) == "abc"


def test_a_retain_past_the_end_is_refused() -> None:
    with pytest.raises(InvalidValue, match="retains past the end"):
        ot.apply("👻ab", [4])


def test_a_delete_of_more_than_remains_is_refused() -> None:
    with pytest.raises(InvalidValue, match="deletes 3 characters where 2 remain"):
        ot.apply("👻ab", [1, {"d": 3}])


@FAST
@given(with_op(), st.integers(1, 5), st.booleans())
def test_an_op_made_for_a_longer_text_never_fits(
    case: tuple[str, Op], beyond: int, deleting: bool
) -> None:
    text, op = case
    walked = sum(c if isinstance(c, int) else c["d"] for c in op if not isinstance(c, str))
    past_the_end = len(text) - walked + beyond
    longer: Op = [*op, ot.Delete(d=past_the_end) if deleting else past_the_end]
    with pytest.raises(InvalidValue) as error:
        ot.apply(text, longer)
    assert error.value.field == "op"


# Checking and normalising

MALFORMED: list[tuple[Any, str]] = [
    ("x", "must be a list"),
    ({"d": 1}, "must be a list"),
    ([-1], "component 0: a retain must be positive, not -1"),
    ([0], "a retain must be positive, not 0"),
    ([""], "an insert must not be empty"),
    (["a", "b\x00"], "component 1: an insert must not contain NUL"),
    ([{"d": 0}], "a delete must be positive, not 0"),
    ([{"d": -3}], "a delete must be positive, not -3"),
    ([{"d": "ab"}], "deleted text is not taken"),
    ([{"d": 1.0}], "with n a whole number"),
    ([{"d": True}], "with n a whole number"),
    ([{"x": 1}], "no other key"),
    ([{"d": 1, "x": 1}], "no other key"),
    ([{}], "no other key"),
    ([1.5], "not a retain (n), an insert"),
    ([None], "not a retain (n), an insert"),
    ([["a"]], "not a retain (n), an insert"),
    ([True], "true and false are not components"),
]


@pytest.mark.parametrize(("op", "problem"), MALFORMED, ids=repr)
def test_a_malformed_op_is_refused_naming_the_problem(op: Any, problem: str) -> None:
    refusers = (
        ot.check,
        ot.normalize,
        lambda o: ot.apply("abc", o),
        lambda o: ot.transform(o, ["x"], "left"),
        lambda o: ot.transform(["x"], o, "right"),
        lambda o: ot.compose(o, ["x"]),
    )
    for refuse in refusers:
        with pytest.raises(InvalidValue) as error:
            refuse(op)
        assert error.value.field == "op"
        assert problem in error.value.message


def test_normalising_merges_neighbours_of_one_kind_and_drops_a_trailing_retain() -> None:
    assert ot.normalize([1, 1, "hi"]) == [2, "hi"]
    assert ot.normalize([{"d": 1}, {"d": 1}, "hi"]) == [{"d": 2}, "hi"]
    assert ot.normalize(["a", 100]) == ["a"]
    assert ot.normalize(["a", "b"]) == ["ab"]
    assert ot.normalize(["a", 1, "b"]) == ["a", 1, "b"]
    assert ot.normalize([3]) == []


def test_normalising_leaves_the_op_it_was_given_as_it_was() -> None:
    op: Op = [{"d": 1}, {"d": 2}, 4]
    ot.normalize(op)
    assert op == [{"d": 1}, {"d": 2}, 4]


@FAST
@given(with_op())
def test_normalising_is_idempotent_and_changes_no_result(case: tuple[str, Op]) -> None:
    text, op = case
    normal = ot.normalize(op)
    assert ot.normalize(normal) == normal
    assert ot.apply(text, normal) == ot.apply(text, op)
    kinds = [type(component) for component in normal]
    assert all(a is not b for a, b in itertools.pairwise(kinds))
    assert not normal or not isinstance(normal[-1], int)


def test_an_op_weighs_its_inserted_code_points_and_one_per_component() -> None:
    assert ot.size([]) == 0
    assert ot.size([3, "👻ab", {"d": 9}]) == 3 + 3


def test_the_change_of_length_is_what_is_inserted_less_what_is_deleted() -> None:
    assert ot.length_change([2, "👻a", 1, {"d": 5}]) == -3
    assert ot.length_change([]) == 0


@FAST
@given(with_op())
def test_the_length_an_op_makes_is_known_without_applying_it(case: tuple[str, Op]) -> None:
    text, op = case
    made = len(ot.apply(text, op))
    assert ot.result_length(op, len(text)) == made == len(text) + ot.length_change(op)


def test_an_op_that_only_retains_does_nothing() -> None:
    assert ot.is_noop([]) and ot.is_noop([4])
    assert not ot.is_noop([{"d": 1}])


# Transforming


def test_inserts_at_one_place_are_ordered_by_side() -> None:
    assert ot.transform(["👻"], ["🥰"], "left") == ["👻"]
    assert ot.transform(["👻"], ["🥰"], "right") == [1, "👻"]


def test_text_deleted_by_both_is_deleted_once() -> None:
    assert ot.transform([1, {"d": 3}], [2, {"d": 3}], "left") == [1, {"d": 1}]


def test_an_insert_inside_text_another_deleted_is_kept() -> None:
    late = ot.transform([{"d": 2}], [1, "x"], "left")
    assert late == [{"d": 1}, 1, {"d": 1}]
    assert ot.apply(ot.apply("ab", [1, "x"]), late) == "x"


def test_the_side_is_left_or_right() -> None:
    with pytest.raises(ValueError, match="side"):
        ot.transform([], [], "middle")  # type: ignore[arg-type]


@THOROUGH
@given(concurrent())
def test_concurrent_ops_converge_whichever_is_applied_first(case: tuple[str, Op, Op]) -> None:
    text, a, b = case
    a_then_b = ot.apply(ot.apply(text, a), ot.transform(b, a, "right"))
    b_then_a = ot.apply(ot.apply(text, b), ot.transform(a, b, "left"))
    assert a_then_b == b_then_a


@FAST
@given(concurrent())
def test_a_transformed_op_is_normalised_whatever_its_input(case: tuple[str, Op, Op]) -> None:
    _, a, b = case
    result = ot.transform(a, b, "left")
    assert result == ot.normalize(result) == ot.transform(ot.normalize(a), b, "left")


# Composing


def test_composing_an_insert_with_its_delete_leaves_nothing() -> None:
    assert ot.compose([1, "a👻b"], [2, {"d": 1}]) == [1, "ab"]
    assert ot.compose(["👻🥰💃"], [1, {"d": 1}]) == ["👻💃"]
    assert ot.compose([2, "xy"], [2, {"d": 2}]) == []


@FAST
@given(sequential())
def test_a_composed_op_does_what_its_parts_do_in_turn(case: tuple[str, Op, Op]) -> None:
    text, first, second = case
    composed = ot.compose(first, second)
    assert ot.apply(text, composed) == ot.apply(ot.apply(text, first), second)
    assert composed == ot.normalize(composed)


# Cursors and selections

SHARED = "abcdefghijklmnopqrstuvwxyz1234abcdefghijklmnopqrstuvwxyz1234"
INSERT_THEN_DELETE: Op = [10, "oh hi", 10, {"d": 20}]


@pytest.mark.parametrize(
    ("cursor", "after"),
    [(0, 0), (10, 10), (11, 16), (20, 25), (30, 25), (40, 25), (41, 26), (60, 45)],
)
def test_a_cursor_moves_as_text_around_it_is_inserted_and_deleted(cursor: int, after: int) -> None:
    assert ot.transform_cursor(cursor, INSERT_THEN_DELETE) == after


def test_an_insert_at_the_cursor_goes_after_it_and_emoji_count_once() -> None:
    assert ot.transform_cursor(1, ["👻🥰💃"]) == 4
    assert ot.transform_cursor(1, [1, "👻🥰💃"]) == 1


def test_the_authors_own_cursor_goes_to_the_end_of_what_the_op_did() -> None:
    assert ot.transform_cursor(0, [3, "👻a", {"d": 4}], is_own_op=True) == 5
    own = ot.transform_selection({"index": 1, "length": 3}, [2, "xy"], is_own_op=True)
    assert own == {"index": 4, "length": 0}


def test_a_selection_takes_in_text_inserted_at_its_start_but_not_at_its_end() -> None:
    selection: ot.Selection = {"index": 2, "length": 3}
    assert ot.transform_selection(selection, [2, "👻"]) == {"index": 2, "length": 4}
    assert ot.transform_selection(selection, [5, "👻"]) == selection
    assert ot.transform_selection(selection, ["👻"]) == {"index": 3, "length": 3}
    assert ot.transform_selection(selection, [3, {"d": 5}]) == {"index": 2, "length": 1}


@pytest.mark.parametrize("cursor", [-1, True, 1.0, "1"])
def test_a_cursor_is_a_whole_number_from_zero(cursor: Any) -> None:
    with pytest.raises(InvalidValue) as error:
        ot.transform_cursor(cursor, [])
    assert error.value.field == "cursor"
    with pytest.raises(InvalidValue) as error:
        ot.transform_selection({"index": cursor, "length": 0}, [])
    assert error.value.field == "index"


@FAST
@given(with_op(), st.data())
def test_a_cursor_after_untouched_text_stays_after_the_same_character(
    case: tuple[str, Op], data: st.DataObject
) -> None:
    text, op = case
    deleted, _ = edits(op)
    kept = [i for i in range(len(text)) if i not in deleted]
    if not kept:
        return
    character = data.draw(st.sampled_from(kept))
    after = ot.transform_cursor(character + 1, op)  # the caret just after that character
    assert ot.apply(text, op)[after - 1] == text[character]


@FAST
@given(with_op(), st.data())
def test_a_selection_of_untouched_text_selects_the_same_text(
    case: tuple[str, Op], data: st.DataObject
) -> None:
    text, op = case
    index = data.draw(st.integers(0, len(text)))
    length = data.draw(st.integers(0, len(text) - index))
    deleted, inserted_at = edits(op)
    moved = ot.transform_selection({"index": index, "length": length}, op)
    assert moved["length"] >= 0
    if not set(range(index, index + length)) & (deleted | inserted_at):
        start = moved["index"]
        assert ot.apply(text, op)[start : start + moved["length"]] == text[index : index + length]
