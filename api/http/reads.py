"""How HTTP queries read models: read-your-writes (``min_position``), the
``Chronicle-Position`` header, and cursor pagination parameters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from api.bootstrap import Container
from infrastructure.read_models import Conn

T = TypeVar("T")

POSITION_HEADER = "Chronicle-Position"
MAX_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.02

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size, at most 500")]
MinPosition = Annotated[
    int | None,
    QueryParameter(
        ge=0, description="Wait (at most 5 s) until the read model reaches this position"
    ),
]
After = Annotated[str | None, QueryParameter(description="The `next` cursor of the previous page")]


def as_utc(moment: datetime | None) -> datetime | None:
    """A time given without an offset is taken as UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def parse_cursor(after: str | None) -> int | None:
    if after is None or after == "":
        return None
    if not after.isdigit() or len(after) > 18:
        raise ValidationException(
            detail="invalid cursor",
            extra=[
                {
                    "key": "after",
                    "message": "must be a cursor from a previous page",
                    "source": "query",
                }
            ],
        )
    return int(after)


def next_cursor_of(cursor: int | None) -> str | None:
    """The ``next`` of a page: the cursor as a string, or null on the last page."""
    return None if cursor is None else str(cursor)


async def read_model(
    request: Request[Any, Any, Any],
    names: tuple[str, ...],
    run: Callable[[Conn], T],
    min_position: int | None,
) -> tuple[T, dict[str, str]]:
    """``run`` over a snapshot of the named read models, once they reach ``min_position``
    (or after at most 5 s), and the header saying how far that snapshot goes.
    """
    container: Container = request.app.state.container
    if min_position:
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while time.monotonic() < deadline:
            reached = await anyio.to_thread.run_sync(container.reads.position, names)
            if reached >= min_position:
                break
            await anyio.sleep(POLL_SECONDS)
    result, position = await anyio.to_thread.run_sync(container.reads.query, names, run)
    return result, {POSITION_HEADER: str(position)}
