"""What a user token may follow: its filters narrowed to what it is allowed, never more,
and nothing (which the route refuses) rather than everything."""

from __future__ import annotations

import pytest

from infrastructure.live_hub import Filter, within

A, B = "0190a1b2-0000-7000-8000-00000000000a", "0190a1b2-0000-7000-8000-00000000000b"
INBOX = "0190a1b2-0000-7000-8000-0000000000ff"
ALLOWED = [("conversation", A), ("conversation", B), ("user", INBOX), ("announcement", None)]


@pytest.mark.parametrize(
    ("asked", "narrowed"),
    [
        (
            (),
            {
                Filter("conversation", A),
                Filter("conversation", B),
                Filter("user", INBOX),
                Filter("announcement"),
            },
        ),
        ((Filter("conversation", A),), {Filter("conversation", A)}),
        (
            (Filter("conversation", None, "MessagePosted"),),
            {
                Filter("conversation", A, "MessagePosted"),
                Filter("conversation", B, "MessagePosted"),
            },
        ),
        ((Filter("user"),), {Filter("user", INBOX)}),
        ((Filter("announcement", A),), {Filter("announcement", A)}),
        ((Filter("conversation", "0190a1b2-0000-7000-8000-0000000000cc"),), set()),
        ((Filter("run"), Filter("task")), set()),
    ],
)
def test_filters_are_narrowed_to_what_is_allowed(
    asked: tuple[Filter, ...], narrowed: set[Filter]
) -> None:
    assert set(within(asked, ALLOWED)) == narrowed


def test_nothing_allowed_is_nothing_followed() -> None:
    assert within((), []) == ()
