"""The stored JSON written by msgspec reads back through the library as it was (no I/O)."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

from infrastructure.transcoder import ChronicleTranscoder


class Colour(enum.StrEnum):
    RED = "red"


def transcoders() -> tuple[JSONTranscoder, ChronicleTranscoder]:
    """The library's transcoder and Chronicle's, with the same transcodings registered."""
    library = Application().mapper.transcoder
    assert isinstance(library, JSONTranscoder)
    ours = ChronicleTranscoder()
    for transcoding in library.types.values():
        ours.register(transcoding)
    return library, ours


AN_ID = uuid.UUID("0190d2a4-5b6c-7d8e-9f00-112233445566")
AT = datetime(2026, 12, 1, 7, 30, 15, 123456, tzinfo=UTC)
PLAIN = [
    {"title": "Hello", "participants": [], "tokens": None, "n": 3, "ok": True, "x": 0.25},
    {"message_id": AN_ID, "timestamp": AT, "cost": Decimal("0.0012")},
    {"nested": {"ids": [AN_ID, AN_ID], "at": {"when": AT}}, "empty": {}},
    {"text": 'quotes " and \\ backslashes, \n newlines, \t tabs, é ☃ 🎉 and \x01'},
    {"local": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5)))},
    {"big": 2**63 - 1, "negative": -(2**63)},
]
LEFT_TO_THE_LIBRARY = [
    {"pair": (1, 2)},
    {"colour": Colour.RED},
    {1: "a key that is not a string"},
    {"nan": float("nan")},
    {"inf": float("inf")},
    {"beyond_64_bits": 2**70},
]


@pytest.mark.parametrize("state", PLAIN)
def test_plain_states_are_written_byte_for_byte_as_the_library_writes_them(
    state: dict[str, Any],
) -> None:
    library, ours = transcoders()
    assert ours.encode(state) == library.encode(state)
    assert library.decode(ours.encode(state)) == state


def test_floats_read_back_as_they_were_though_exponents_are_written_shorter() -> None:
    library, ours = transcoders()
    state = {"tiny": 1e-300, "huge": 1.5e300, "third": 1 / 3, "negative": -0.0}
    decoded = library.decode(ours.encode(state))
    assert decoded == state
    assert [repr(v) for v in decoded.values()] == [repr(v) for v in state.values()]


@pytest.mark.parametrize("state", LEFT_TO_THE_LIBRARY, ids=str)
def test_values_msgspec_would_write_otherwise_go_through_the_library(
    state: dict[Any, Any],
) -> None:
    library, ours = transcoders()
    assert ours.encode(state) == library.encode(state)


def test_an_unregistered_type_is_refused_as_the_library_refuses_it() -> None:
    library, ours = transcoders()
    with pytest.raises(TypeError) as theirs:
        library.encode({"obj": object()})
    with pytest.raises(type(theirs.value)):
        ours.encode({"obj": object()})
