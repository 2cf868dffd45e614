"""Bounds every value must keep to be stored, projected and published without failing later.

PostgreSQL's text and jsonb cannot hold NUL, integer columns have ranges, and JSON nested
without bound exhausts every recursive reader: the domain refuses such values before any
event is triggered, so nothing it accepts can stop a follower of the log.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from domain.errors import InvalidValue

INT32_MAX = 2**31 - 1  # an `integer` column
INT64_MAX = 2**63 - 1  # a `bigint` column, and every position and version
JSON_MAX_DEPTH = 32
NUL = "\x00"


def check_text(field: str, value: str) -> None:
    """Text must be storable anywhere: PostgreSQL text and jsonb cannot hold NUL."""
    if NUL in value:
        raise InvalidValue(field, "must not contain NUL characters")


def check_chars(field: str, value: str, maximum: int, *, minimum: int = 1) -> None:
    """Between ``minimum`` and ``maximum`` characters (code points), without NUL."""
    if not minimum <= len(value) <= maximum:
        raise InvalidValue(field, f"must be {minimum} to {maximum} characters")
    check_text(field, value)


def check_count(field: str, value: int, maximum: int = INT32_MAX) -> None:
    """A whole number from 0 to ``maximum`` (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidValue(field, f"must be a whole number from 0 to {maximum}")


def check_amount(field: str, value: float, maximum: float) -> None:
    """A finite number from 0 to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(field, "must be a number")
    if not (math.isfinite(value) and 0 <= value <= maximum):
        raise InvalidValue(field, f"must be a number from 0 to {maximum:g}")


def in_utc(field: str, moment: datetime) -> datetime:
    """The same moment in UTC. A time must carry its offset; stored in UTC, it stays
    readable where offsets are bounded (PostgreSQL takes at most ±15:59, Python ±23:59).

    A valid time within a day of the calendar's ends may have no UTC equivalent (year 1
    at +05:00 is year 0 in UTC): it becomes the first or last moment UTC has, which
    means the same to anything scheduled or compared."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValue(field, "must be a time with a UTC offset (RFC 3339)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


def check_json(field: str, value: Any) -> None:
    """A JSON value every reader can hold: objects with string keys, arrays, strings
    without NUL, numbers from -2^63 to 2^63-1 (64-bit integers; finite floats in that
    range), booleans and null, nested at most `JSON_MAX_DEPTH` levels. Walked without
    recursion, so any depth is refused safely."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list) and depth > JSON_MAX_DEPTH:
            raise InvalidValue(field, f"must be nested at most {JSON_MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, member in item.items():
                if not isinstance(key, str):
                    raise InvalidValue(field, "object keys must be strings")
                check_text(field, key)
                pending.append((member, depth + 1))
        elif isinstance(item, list):
            pending.extend((member, depth + 1) for member in item)
        elif isinstance(item, str):
            check_text(field, item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            if not -INT64_MAX - 1 <= item <= INT64_MAX:  # NaN compares false too
                raise InvalidValue(field, "numbers must be from -2^63 to 2^63-1")
        else:
            raise InvalidValue(field, f"must be JSON, not {type(item).__name__}")
