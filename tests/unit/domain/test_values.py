"""The bounds that keep every accepted value storable by the log and every read model."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import InvalidValue
from domain.values import JSON_MAX_DEPTH, check_amount, check_chars, check_count, check_json


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**63),
        2**63 - 1,
        1.5,
        "text",
        {"k": [1, {"n": None}]},
        nested(JSON_MAX_DEPTH),
    ],
)
def test_json_every_reader_can_hold_is_accepted(value: Any) -> None:
    check_json("payload", value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "NUL"),
        ({"k\x00": 1}, "NUL"),
        ({"k": ["x", {"y": "\x00"}]}, "NUL"),
        (2**63, "2^63"),
        (-(2**63) - 1, "2^63"),
        (float(2**63), "2^63"),
        (float("inf"), "2^63"),
        (float("nan"), "2^63"),
        (nested(JSON_MAX_DEPTH + 1), "nested"),
        ({1: "x"}, "keys"),
        ((1, 2), "JSON"),
        ({"k": b"bytes"}, "JSON"),
    ],
)
def test_json_a_reader_cannot_hold_is_refused(value: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as error:
        check_json("payload", value)
    assert error.value.field == "payload"
    assert reason in error.value.message


def test_json_nested_a_hundred_thousand_levels_is_refused_without_recursion() -> None:
    with pytest.raises(InvalidValue):
        check_json("payload", nested(100_000))


@pytest.mark.parametrize("value", [-1, 2**31, True, 1.0])
def test_a_count_is_a_whole_number_within_its_column(value: Any) -> None:
    with pytest.raises(InvalidValue):
        check_count("tokens", value)


@pytest.mark.parametrize("value", [-0.01, float("inf"), float("nan"), 10.01, "1"])
def test_an_amount_is_a_finite_number_within_its_bound(value: Any) -> None:
    with pytest.raises(InvalidValue):
        check_amount("cost", value, 10.0)


@pytest.mark.parametrize("value", ["", "x" * 11, "a\x00"])
def test_chars_are_bounded_and_free_of_nul(value: str) -> None:
    with pytest.raises(InvalidValue):
        check_chars("name", value, 10)
