"""How HTTP queries read models: read-your-writes (``min_position``), the
``Chronicle-Position`` header, cursor pagination parameters, and conditional GETs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import anyio.to_thread
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import Response

from api.http.bodies import invalid
from domain.values import INT64_MAX
from infrastructure.event_log import EventLog
from infrastructure.read_models import Conn, ReadStore

T = TypeVar("T")

POSITION_HEADER = "Chronicle-Position"
MAX_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.02
CURSOR_PATTERN = r"^[0-9]{0,18}$"
READ_MODEL = {"read_model": True}  # the `opt` of a route answered from read models

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size, at most 500")]
MinPosition = Annotated[
    int | None,
    QueryParameter(
        ge=0,
        le=INT64_MAX,
        description="Wait (at most 5 s) until the read model reaches this position (a"
        " command's `position`); a position beyond the log's head is answered at once",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        max_length=1000,
        description="Answer 304 without a body if the resource's ETag is one of these",
    ),
]
After = Annotated[
    str | None,
    QueryParameter(
        pattern=CURSOR_PATTERN,
        description="The `next` cursor of the previous page",
    ),
]


def as_utc(moment: datetime | None) -> datetime | None:
    """A time given without an offset is taken as UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def parse_cursor(after: str | None) -> int | None:
    """The position of an ``after`` cursor (already checked against `CURSOR_PATTERN`)."""
    if not after:
        return None
    if not after.isdigit() or len(after) > 18:
        raise invalid("after", "must be a cursor from a previous page", "query")
    return int(after)


def next_cursor_of(cursor: int | None) -> str | None:
    """The ``next`` of a page: the cursor as a string, or null on the last page."""
    return None if cursor is None else str(cursor)


class ReadModels:
    """Queries over read models, as HTTP answers them: read-your-writes and the position."""

    def __init__(self, reads: ReadStore, events: EventLog) -> None:
        self._reads = reads
        self._events = events

    async def query(
        self, names: tuple[str, ...], run: Callable[[Conn], T], min_position: int | None
    ) -> tuple[T, dict[str, str]]:
        """``run`` over a snapshot of the named read models, once they reach
        ``min_position`` (or after at most 5 s), and the header saying how far that
        snapshot goes.

        A position beyond the log's head was never given by a command (a command answers
        after its commit), so there is nothing to wait for.
        """
        if min_position:
            deadline = time.monotonic() + MAX_WAIT_SECONDS
            reached = await anyio.to_thread.run_sync(self._reads.position, names)
            if reached < min_position and min_position <= await anyio.to_thread.run_sync(
                self._events.head
            ):
                while reached < min_position and time.monotonic() < deadline:
                    await anyio.sleep(POLL_SECONDS)
                    reached = await anyio.to_thread.run_sync(self._reads.position, names)
        result, position = await anyio.to_thread.run_sync(self._reads.query, names, run)
        return result, {POSITION_HEADER: str(position)}


def etag_of(version: int) -> str:
    return f'"{version}"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names this entity tag (weakly compared, ``*`` for any)."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def one(body: T, version: int, headers: dict[str, str], if_none_match: str | None) -> Response[T]:
    """One resource with its version as ``ETag``; ``304`` without a body when the
    client's ``If-None-Match`` already names that version."""
    etag = etag_of(version)
    headers = headers | {"ETag": etag}
    if not_modified(if_none_match, etag):
        return Response(None, status_code=304, headers=headers)  # type: ignore[arg-type]
    return Response(body, headers=headers)
