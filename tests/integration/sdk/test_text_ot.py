"""The SDK's copy of the text OT (it cannot import Chronicle's domain) agrees with
``domain.text_ot`` on generated documents and ops: an editor converges with the server
only while both transform alike."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chronicle_client import text_ot as sdk
from domain import text_ot as domain

TEXT = st.text(alphabet="ab😭\n ", max_size=12)


@st.composite
def op_for(draw: st.DrawFn, length: int) -> list[Any]:
    """A well-formed op over a text of ``length`` code points (not always normalised)."""
    op: list[Any] = []
    left = length
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["retain", "insert", "delete"]))
        if kind == "insert":
            op.append(draw(TEXT.filter(bool)))
        elif left:
            count = draw(st.integers(1, left))
            op.append(count if kind == "retain" else {"d": count})
            left -= count
    return op


@st.composite
def document_and_two_ops(draw: st.DrawFn) -> tuple[str, list[Any], list[Any]]:
    text = draw(TEXT)
    return text, draw(op_for(len(text))), draw(op_for(len(text)))


@settings(max_examples=300, deadline=None)
@given(document_and_two_ops(), st.sampled_from(["left", "right"]))
def test_apply_transform_and_compose_agree_with_the_domain(
    case: tuple[str, list[Any], list[Any]], side: Any
) -> None:
    text, a, b = case
    assert sdk.apply(text, a) == domain.apply(text, a)
    assert sdk.normalize(a) == domain.normalize(a)
    assert sdk.transform(a, b, side) == domain.transform(a, b, side)
    after_a = domain.apply(text, a)
    second = domain.transform(b, a, "right")  # an op on the text that `a` made
    assert sdk.compose(a, second) == domain.compose(a, second)
    assert sdk.apply(after_a, second) == domain.apply(after_a, second)


@settings(max_examples=200, deadline=None)
@given(document_and_two_ops(), st.integers(0, 12), st.integers(0, 12), st.booleans())
def test_cursors_move_as_in_the_domain(
    case: tuple[str, list[Any], list[Any]], index: int, length: int, own: bool
) -> None:
    _, op, _ = case
    selection: Any = {"index": index, "length": length}
    assert sdk.transform_cursor(index, op, own) == domain.transform_cursor(index, op, own)
    assert sdk.transform_selection(selection, op, own) == domain.transform_selection(
        selection, op, own
    )
